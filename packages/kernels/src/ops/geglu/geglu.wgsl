// GeGLU forward, the gated MLP activation of Gemma 3 (hidden_activation "gelu_pytorch_tanh"):
//   out = gelu_tanh(gate) * up,  gelu_tanh(g) = 0.5 g (1 + tanh(u)),  u = sqrt(2/pi) (g + 0.044715 g^3)
// gate, up, out: [N, I], one thread per element.
//
// tanh from e = exp(-2|u|), of a non-positive number only: 1 + tanh(u) = 2 / (1 + e) for u >= 0 and 2e / (1 + e)
// for u < 0, so it neither overflows (WGSL's tanh may, through sinh / cosh) nor cancels for very negative g.

const WG = 256u;
const SQRT_2_OVER_PI = 0.7978845608028654;
const A = 0.044715;

struct Params { total: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  let g = gate[i];
  let u = SQRT_2_OVER_PI * (g + A * g * g * g);
  let e = exp(-2.0 * abs(u));
  let one_plus_t = select(2.0 * e, 2.0, u >= 0.0) / (1.0 + e);
  out[i] = 0.5 * g * one_plus_t * up[i];
}
