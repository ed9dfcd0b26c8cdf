// DPO, stage 2, as TRL's DPOTrainer (and SimPO, as TRL's CPOTrainer with loss_type "simpo"): pair losses, rewards,
// and per-token gradient weights.
// P pairs as S = 2P sequences of T tokens: sequence p is pair p's chosen completion, P + p its
// rejected one. With pc, pr, rc, rr the policy / reference log-probs of the chosen and rejected
// completions (for ipo each divided by its sequence's token count first, as TRL does):
//   z = (pc - rc) - (pr - rr)                        TRL's "logits"
//   sigmoid: loss = (1 - ls) softplus(-beta z) + ls softplus(beta z)   (= -logsigmoid(.) terms)
//   ipo:     loss = (z - 1 / (2 beta))^2
//   hinge:   loss = relu(1 - beta z)
//   simpo:   the sigmoid loss of z = pc - pr - gamma / beta, with pc, pr averaged and no reference (rc = rr = 0),
//            and chosen_weight added to every chosen completion token's weight (CPO's NLL term, cpo_alpha / its
//            tokens)
//   rewards: beta (pc - rc), beta (pr - rr)
// The batch loss is sum_p loss_p / pairs_total, so weights[s, t] = dLoss/dNLL[s, t]
// = -dLoss/dlogp[s, t] = -(+-dloss_p/dz) * mask[s, t] (/ count_s for ipo) / pairs_total.
//
// One workgroup per sequence: every thread computes its pair's scalars (a few flops, no barrier
// to share them), then the workgroup writes the sequence's T weights. The chosen sequence's
// workgroup writes the pair's loss and rewards.

const WG = 256u;

// Codes of Params.loss_type.
const SIGMOID = 0u;
const IPO = 1u;
const SIMPO = 3u;

struct Params {
  P: u32, T: u32, loss_type: u32, gamma_over_beta: f32,
  beta: f32, label_smoothing: f32, pairs_total: f32, chosen_weight: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// seq_logps and counts are only read here, but bound read_write so that the caller may keep all
// outputs in one buffer (WebGPU forbids read-only and writable bindings of a buffer in a dispatch).
@group(0) @binding(1) var<storage, read_write> seq_logps: array<f32>;  // [S] from dpo_loss_sums
@group(0) @binding(2) var<storage, read_write> counts: array<f32>;     // [S] from dpo_loss_sums
@group(0) @binding(3) var<storage, read> ref_logps: array<f32>;        // [S]
@group(0) @binding(4) var<storage, read> mask: array<f32>;             // [S, T]
@group(0) @binding(5) var<storage, read_write> losses: array<f32>;            // [P]
@group(0) @binding(6) var<storage, read_write> chosen_rewards: array<f32>;    // [P]
@group(0) @binding(7) var<storage, read_write> rejected_rewards: array<f32>;  // [P]
@group(0) @binding(8) var<storage, read_write> weights: array<f32>;           // [S, T]

// log(1 + u) for u in [0, 1], as 2 atanh(w) with w = u / (2 + u) in [0, 1/3]: its odd series
// converges fast enough for float32 in 8 terms, and stays accurate for tiny u where log(1 + u)
// would round 1 + u away (WGSL has no log1p).
fn log1p_unit(u: f32) -> f32 {
  let w = u / (2.0 + u);
  let w2 = w * w;
  let series = 1.0 + w2 * (1.0 / 3.0 + w2 * (1.0 / 5.0 + w2 * (1.0 / 7.0 + w2 * (1.0 / 9.0 + w2 * (1.0 / 11.0 + w2 * (1.0 / 13.0 + w2 / 15.0))))));
  return 2.0 * w * series;
}

// log(1 + exp(x)) without overflow: exp only ever sees -|x|.
fn softplus(x: f32) -> f32 {
  return max(x, 0.0) + log1p_unit(exp(-abs(x)));
}

fn sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let s = wid.x + wid.y * nwg.x;
  if (s >= 2u * p.P) { return; }
  let chosen = s < p.P;
  let pair = s % p.P;
  let c = pair;
  let r = pair + p.P;
  var pc = seq_logps[c];
  var pr = seq_logps[r];
  var rc = ref_logps[c];
  var rr = ref_logps[r];
  // A sequence without completion tokens (not valid DPO data) averages over 1, not 0: no NaN.
  let n_c = max(counts[c], 1.0);
  let n_r = max(counts[r], 1.0);
  let averaged = p.loss_type == IPO || p.loss_type == SIMPO;
  if (averaged) {
    pc /= n_c;
    rc /= n_c;
    pr /= n_r;
    rr /= n_r;
  }
  if (p.loss_type == SIMPO) {
    rc = 0.0;
    rr = 0.0;
  }
  let chosen_ratio = pc - rc;
  let rejected_ratio = pr - rr;
  var z = chosen_ratio - rejected_ratio;
  if (p.loss_type == SIMPO) { z -= p.gamma_over_beta; }
  let bz = p.beta * z;
  var loss: f32;
  var dloss_dz: f32;
  if (p.loss_type == SIGMOID || p.loss_type == SIMPO) {
    let ls = p.label_smoothing;
    loss = (1.0 - ls) * softplus(-bz) + ls * softplus(bz);
    dloss_dz = p.beta * (ls * sigmoid(bz) - (1.0 - ls) * sigmoid(-bz));
  } else if (p.loss_type == IPO) {
    let d = z - 1.0 / (2.0 * p.beta);
    loss = d * d;
    dloss_dz = 2.0 * d;
  } else {  // hinge; relu'(0) = 0 as in PyTorch
    let h = 1.0 - bz;
    loss = max(h, 0.0);
    dloss_dz = select(0.0, -p.beta, h > 0.0);
  }
  // dz/dpc = 1, dz/dpr = -1; the weight is the negated log-prob gradient.
  var coef = select(dloss_dz, -dloss_dz, chosen) / p.pairs_total;
  if (averaged) { coef /= select(n_r, n_c, chosen); }
  // Skipped when 0, so that DPO's weights keep their bits (-0 + 0 is +0).
  if (chosen && p.chosen_weight != 0.0) { coef += p.chosen_weight; }
  let base = s * p.T;
  for (var t = lid; t < p.T; t += WG) { weights[base + t] = coef * mask[base + t]; }
  if (chosen && lid == 0u) {
    losses[pair] = loss;
    chosen_rewards[pair] = p.beta * chosen_ratio;
    rejected_rewards[pair] = p.beta * rejected_ratio;
  }
}
