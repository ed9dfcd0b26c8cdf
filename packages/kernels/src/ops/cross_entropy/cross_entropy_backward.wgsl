// Fused log-softmax cross-entropy, backward, in place over logits [N, V]:
//   logits[i, j] <- weights[i] * (exp(logits[i, j] - lse[i]) - (j == t_i ? 1 : 0))
// and, when the logits were softcapped (y = cap * tanh(z / cap), cap > 0), times dy/dz = 1 - (y / cap)^2, so the
// buffer becomes dLoss/dz from the capped values it holds.
// with lse from the forward. Ignored rows (t_i >= V) and rows with weight 0 are written as
// exact zeros without reading them: the buffer becomes the gradient, and those logits may be
// anything. Workgroup g covers CHUNK columns of one row, so a 152k-column row spreads over many
// workgroups; a thread's accesses stride by WG (coalesced). No workgroup memory, no barriers.

const WG = 256u;
const PER_THREAD = 8u;
const CHUNK = WG * PER_THREAD;

struct Params { N: u32, V: u32, chunks: u32, groups: u32, cap: f32, _pad0: u32, _pad1: u32, _pad2: u32 }  // chunks = ceil(V / CHUNK) per row; cap 0: none

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;  // [N, V] in, dlogits [N, V] out
@group(0) @binding(2) var<storage, read> targets: array<u32>;       // [N]
@group(0) @binding(3) var<storage, read> lse: array<f32>;           // [N]
@group(0) @binding(4) var<storage, read> weights: array<f32>;       // [N]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.groups) { return; }
  let row = g / p.chunks;
  let base = row * p.V;
  let begin = (g % p.chunks) * CHUNK;
  let end = min(begin + CHUNK, p.V);
  let t = targets[row];
  let w = weights[row];
  if (t >= p.V || w == 0.0) {
    for (var j = begin + lid; j < end; j += WG) { logits[base + j] = 0.0; }
    return;
  }
  let l = lse[row];
  for (var j = begin + lid; j < end; j += WG) {
    let y = logits[base + j];
    let prob = exp(y - l);
    var g = w * select(prob, prob - 1.0, j == t);
    if (p.cap > 0.0) {
      let t_ = y / p.cap;
      g *= 1.0 - t_ * t_;
    }
    logits[base + j] = g;
  }
}
