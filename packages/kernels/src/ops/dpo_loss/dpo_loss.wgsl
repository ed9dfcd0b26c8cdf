// DPO, stage 2, as TRL's DPOTrainer (and SimPO, as TRL's CPOTrainer with loss_type "simpo", and ORPO, as TRL's
// ORPOTrainer): pair losses, rewards, and per-token gradient weights.
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
//   orpo:    z = log_odds = (pc - pr) - (log1mexp(pc) - log1mexp(pr)), log1mexp(x) = log(1 - e^x), with pc, pr
//            averaged and no reference; loss = beta softplus(-z) (= -beta logsigmoid(z)); dz/dpc = -1 / expm1(pc),
//            dz/dpr = 1 / expm1(pr). chosen_weight is added at every position of the chosen rows (the NLL over
//            prompt and completion, 1 / its tokens): crossEntropyBackward zeroes the ignored targets' gradient
//            whatever their weight, so it lands on the chosen rows' targets.
//   rewards: beta (pc - rc), beta (pr - rr)
// The batch loss is sum_p loss_p / pairs_total, so weights[s, t] = dLoss/dNLL[s, t]
// = -dLoss/dlogp[s, t] = -dloss_p/dz * dz/dp_s * mask[s, t] (/ count_s when averaged) / pairs_total.
//
// One workgroup per sequence: every thread computes its pair's scalars (a few flops, no barrier
// to share them), then the workgroup writes the sequence's T weights. The chosen sequence's
// workgroup writes the pair's loss and rewards.

const WG = 256u;
const LN2 = 0.6931471805599453;
// +inf's bits, in a private variable: a constant expression may not hold an infinity.
var<private> INF_BITS: u32 = 0x7f800000u;

// Codes of Params.loss_type.
const SIGMOID = 0u;
const IPO = 1u;
const SIMPO = 3u;
const ORPO = 4u;

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

// log(1 + u) for u in [-1/2, 1], as 2 atanh(w) with w = u / (2 + u) in [-1/3, 1/3]: its odd
// series converges fast enough for float32 in 8 terms, and stays accurate for tiny u where
// log(1 + u) would round 1 + u away (WGSL has no log1p).
fn log1p_near(u: f32) -> f32 {
  let w = u / (2.0 + u);
  let w2 = w * w;
  let series = 1.0 + w2 * (1.0 / 3.0 + w2 * (1.0 / 5.0 + w2 * (1.0 / 7.0 + w2 * (1.0 / 9.0 + w2 * (1.0 / 11.0 + w2 * (1.0 / 13.0 + w2 / 15.0))))));
  return 2.0 * w * series;
}

// log(1 + exp(x)) without overflow: exp only ever sees -|x|.
fn softplus(x: f32) -> f32 {
  return max(x, 0.0) + log1p_near(exp(-abs(x)));
}

// e^x - 1 for x <= 0 (WGSL has no expm1): above -ln 2, where exp(x) - 1 would cancel, its Taylor
// series to x^11 / 11! (the first term left out is under 2^-34 of the sum there), in Horner form.
fn expm1_neg(x: f32) -> f32 {
  if (x < -LN2) { return exp(x) - 1.0; }
  var s = 1.0 + x / 11.0;
  for (var k = 10u; k >= 2u; k--) { s = 1.0 + x / f32(k) * s; }
  return x * s;
}

// log(1 - e^x) for x <= 0, branching at -ln 2 as TRL's (and the float64 reference's) log1mexp:
// log1p(-e^x) below, log(-expm1(x)) above. -inf at 0.
fn log1mexp(x: f32) -> f32 {
  if (x < -LN2) { return log1p_near(-exp(x)); }
  return log(-expm1_neg(x));
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
  // TRL's DPO rewards are of the token-summed log-ratios whatever the loss: ipo averages for its loss only.
  let summed_chosen = pc - rc;
  let summed_rejected = pr - rr;
  // A sequence without completion tokens (not valid DPO data) averages over 1, not 0: no NaN.
  let n_c = max(counts[c], 1.0);
  let n_r = max(counts[r], 1.0);
  let orpo = p.loss_type == ORPO;
  let averaged = p.loss_type == IPO || p.loss_type == SIMPO || orpo;
  if (averaged) {
    pc /= n_c;
    rc /= n_c;
    pr /= n_r;
    rr /= n_r;
  }
  if (p.loss_type == SIMPO || orpo) {
    rc = 0.0;
    rr = 0.0;
  }
  let chosen_ratio = pc - rc;
  let rejected_ratio = pr - rr;
  var z = chosen_ratio - rejected_ratio;
  var dz_dpc = 1.0;
  var dz_dpr = -1.0;
  if (p.loss_type == SIMPO) { z -= p.gamma_over_beta; }
  if (orpo) {
    z -= log1mexp(pc) - log1mexp(pr);
    dz_dpc = -1.0 / expm1_neg(pc);
    dz_dpr = 1.0 / expm1_neg(pr);
  }
  let bz = p.beta * z;
  var loss: f32;
  var dloss_dz: f32;
  if (orpo) {
    loss = p.beta * softplus(-z);
    dloss_dz = -p.beta * sigmoid(-z);
    // An average log-prob of 0 (every token certain) has infinite odds, and the 1 / expm1(0) above is undefined in
    // WGSL: the loss is made +inf, so that the halt guard stops the step rather than let unknown weights through
    // (TRL's gradient is NaN there).
    if (max(pc, pr) >= 0.0) { loss = bitcast<f32>(INF_BITS); }
  } else if (p.loss_type == SIGMOID || p.loss_type == SIMPO) {
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
  // The weight is the negated log-prob gradient; dz/dpc = 1 and dz/dpr = -1 (exact sign flips) but for orpo.
  var coef = -dloss_dz * select(dz_dpr, dz_dpc, chosen) / p.pairs_total;
  if (averaged) { coef /= select(n_r, n_c, chosen); }
  // chosen_weight: simpo's on the completion tokens, orpo's at every position of the row. Each is added only when
  // not 0, so that DPO's weights keep their bits (-0 + 0 is +0).
  let extra = select(0.0, p.chosen_weight, chosen);
  let row_weight = select(0.0, extra, orpo);
  if (extra != 0.0 && !orpo) { coef += extra; }
  let base = s * p.T;
  for (var t = lid; t < p.T; t += WG) {
    let w = coef * mask[base + t];
    weights[base + t] = select(w, w + row_weight, row_weight != 0.0);
  }
  if (chosen && lid == 0u) {
    losses[pair] = loss;
    let ipo = p.loss_type == IPO;
    chosen_rewards[pair] = p.beta * select(chosen_ratio, summed_chosen, ipo);
    rejected_rewards[pair] = p.beta * select(rejected_ratio, summed_rejected, ipo);
  }
}
