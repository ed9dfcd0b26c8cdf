// SwiGLU forward, the gated MLP activation of Llama/Qwen2:
//   out = silu(gate) * up,  silu(g) = g * sigmoid(g)
// gate, up, out: [N, I], one thread per element.

const WG = 256u;

struct Params { total: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// exp only of a non-positive number: it cannot overflow for any |g| (WGSL does not define exp's overflow).
fn sigmoid(g: f32) -> f32 {
  let e = exp(-abs(g));
  return select(e, 1.0, g >= 0.0) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }  // also drops the spare workgroups of a folded grid
  let g = gate[i];
  out[i] = g * sigmoid(g) * up[i];
}
