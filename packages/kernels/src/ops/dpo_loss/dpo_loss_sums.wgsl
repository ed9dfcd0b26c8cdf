// DPO, stage 1: masked per-sequence sums, one workgroup per sequence s of S = 2P rows of T tokens:
//   seq_logps[s] = sum_t logprobs[s, t] * mask[s, t]      counts[s] = sum_t mask[s, t]
// Tokens with mask 0 (prompt, padding) are not read: their log-probs may be anything.
// With whole_row set, every token counts as masked in (ORPO's NLL over prompt and completion: ignored targets'
// log-probs are exactly 0 from crossEntropyForward) and only seq_logps is written.
// The workgroup merges its WG partial sums in two rounds (two barriers, not log2(WG)).

const WG = 256u;
const FAN = 16u;  // threads in the first merge round; each folds WG / FAN partials

struct Params { S: u32, T: u32, whole_row: u32, _pad0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logprobs: array<f32>;         // [S, T]
@group(0) @binding(2) var<storage, read> mask: array<f32>;             // [S, T]
@group(0) @binding(3) var<storage, read_write> seq_logps: array<f32>;  // [S]
@group(0) @binding(4) var<storage, read_write> counts: array<f32>;     // [S]

var<workgroup> partial: array<vec2f, WG>;  // (sum of logprob * mask, sum of mask)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x + wid.y * nwg.x;
  if (s >= p.S) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let base = s * p.T;
  var acc = vec2f(0.0);
  for (var t = lid; t < p.T; t += WG) {
    let m = select(mask[base + t], 1.0, p.whole_row != 0u);
    if (m != 0.0) { acc += vec2f(logprobs[base + t] * m, m); }
  }
  partial[lid] = acc;
  workgroupBarrier();
  if (lid < FAN) {
    for (var k = lid + FAN; k < WG; k += FAN) { acc += partial[k]; }
    partial[lid] = acc;  // only this thread reads slots congruent to lid mod FAN: no race
  }
  workgroupBarrier();
  if (lid == 0u) {
    for (var k = 1u; k < FAN; k++) { acc += partial[k]; }
    seq_logps[s] = acc.x;
    if (p.whole_row == 0u) { counts[s] = acc.y; }
  }
}
