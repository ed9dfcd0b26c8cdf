// SwiGLU backward. With s = sigmoid(gate):
//   dup   = dout * silu(gate) = dout * gate * s
//   dgate = dout * up * silu'(gate),  silu'(g) = s * (1 + g * (1 - s))
// dout, gate, up, dgate, dup: [N, I], one thread per element, both gradients overwritten.

const WG = 256u;

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
  // s and 1 - s each from exp of a non-positive number, so neither overflows nor cancels.
  let e = exp(-abs(g));
  let s = select(e, 1.0, g >= 0.0) / (1.0 + e);
  let one_minus_s = select(1.0, e, g >= 0.0) / (1.0 + e);
  let d = dout[i];
  dup[i] = d * g * s;
  dgate[i] = d * up[i] * s * (1.0 + g * one_minus_s);
}
