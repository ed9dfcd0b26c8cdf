// Fused log-softmax cross-entropy, forward. One workgroup per row i of logits [N, V]:
//   lse[i]      = logsumexp(logits[i])
//   logprobs[i] = logits[i, t_i] - lse[i], or exactly 0 when the row is ignored (t_i >= V)
// Each thread keeps an online pair (m, s), s = sum of exp(x - m) over its strided slice of the
// row with m the largest x seen, so the row is read once and nothing vocab-sized is written.
// The workgroup then merges the WG pairs in two rounds (two barriers, not log2(WG)).
//
// Every pair starts as (logits[i, 0], 0): the same finite value a sentinel -inf would stand for,
// so merges never compute exp(-inf) or inf - inf (WGSL promises nothing for those).

const WG = 256u;
const FAN = 16u;  // threads in the first merge round; each folds WG / FAN pairs

struct Params { N: u32, V: u32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // [N, V]
@group(0) @binding(2) var<storage, read> targets: array<u32>;      // [N]
@group(0) @binding(3) var<storage, read_write> logprobs: array<f32>;  // [N]
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;       // [N]

var<workgroup> pairs: array<vec2f, WG>;  // (m, s) per thread, then per first-round thread

// (m, s) stands for s * exp(m); the merge rescales both to the larger m.
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let base = row * p.V;

  var m = logits[base];
  var s = 0.0;
  for (var j = lid; j < p.V; j += WG) {
    let x = logits[base + j];
    // One exp per element: exp(-|x - m|) is the factor for whichever of x and m is smaller.
    let d = exp(-abs(x - m));
    s = select(s + d, fma(s, d, 1.0), x > m);
    m = max(m, x);
  }
  pairs[lid] = vec2f(m, s);
  workgroupBarrier();
  if (lid < FAN) {
    var acc = pairs[lid];
    for (var k = lid + FAN; k < WG; k += FAN) { acc = merge(acc, pairs[k]); }
    pairs[lid] = acc;  // only this thread reads slots congruent to lid mod FAN: no race
  }
  workgroupBarrier();
  if (lid == 0u) {
    var acc = pairs[0];
    for (var k = 1u; k < FAN; k++) { acc = merge(acc, pairs[k]); }
    let log_s = log(acc.y);  // acc.y in [1, V]: the row's max contributes exp(0)
    lse[row] = acc.x + log_s;
    let t = targets[row];
    var logprob = 0.0;
    // (x_t - m) - log s, not x_t - lse: skips the rounding of m + log s (eps * |lse|).
    if (t < p.V) { logprob = (logits[base + t] - acc.x) - log_s; }
    logprobs[row] = logprob;
  }
}
