// GeGLU backward. With u = sqrt(2/pi) (g + 0.044715 g^3) and t = tanh(u):
//   dup   = dout * gelu_tanh(gate) = dout * 0.5 g (1 + t)
//   dgate = dout * up * gelu_tanh'(gate),  gelu_tanh'(g) = 0.5 (1 + t) + 0.5 g (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 g^2)
// dout, gate, up, dgate, dup: [N, I], one thread per element, both gradients overwritten.
// 1 + t and 1 - t^2 = 4e / (1 + e)^2 come from e = exp(-2|u|) (see geglu.wgsl): no overflow, no cancellation.

const WG = 256u;
const SQRT_2_OVER_PI = 0.7978845608028654;
const A = 0.044715;

struct Params { total: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgate: array<f32>;
@group(0) @binding(5) var<storage, read_write> dup: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  let g = gate[i];
  let u = SQRT_2_OVER_PI * (g + A * g * g * g);
  let e = exp(-2.0 * abs(u));
  let one_plus_e = 1.0 + e;
  let one_plus_t = select(2.0 * e, 2.0, u >= 0.0) / one_plus_e;
  let sech2 = 4.0 * e / (one_plus_e * one_plus_e);
  let d = dout[i];
  dup[i] = d * 0.5 * g * one_plus_t;
  let slope = 0.5 * one_plus_t + 0.5 * g * sech2 * SQRT_2_OVER_PI * (1.0 + 3.0 * A * g * g);
  dgate[i] = d * up[i] * slope;
}
