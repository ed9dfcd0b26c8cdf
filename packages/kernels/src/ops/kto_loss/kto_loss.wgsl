// KTO as TRL's KTOTrainer (kto_loss, loss types "kto" and "apo_zero_unpaired"): per-row losses and per-token gradient
// weights of n unpaired rows, from each row's summed completion log-probs r_pol and its reference's r_ref:
//   kl = max(0, mean_j(kl_logps[j] - ref_kl_logps[j]))     (kto only; detached: no gradient flows through it)
//   x = beta (r_pol - r_ref - kl)
//   desirable:   loss = w sigmoid(-x)     (= w (1 - sigmoid(x)))
//   undesirable: loss = w sigmoid(x)      (kto's 1 - sigmoid(beta (kl - r)); apo_zero_unpaired's sigmoid(beta r))
// label_weights[i] holds +w for a desirable row and -w for an undesirable one, so with it signed
//   dloss/dr_pol = -label_weight beta sigmoid(x) sigmoid(-x)
// The batch loss is sum_i loss_i / rows_total, so every position of row i weighs dLoss/dNLL = -dloss_i/dr_pol /
// rows_total. crossEntropyBackward zeroes the gradient of ignored targets whatever their weight, so it lands on the
// row's targets (its completion tokens).
//
// One workgroup per row: every thread computes the row's scalars (kl is a loop over the n rows: a few flops each), then
// the workgroup writes the row's T weights; thread 0 its loss, and row 0's the kl.

const WG = 256u;

// Codes of Params.loss_type.
const KTO = 0u;

struct Params { n: u32, T: u32, loss_type: u32, _pad0: u32, beta: f32, rows_total: f32, _pad1: f32, _pad2: f32 }

@group(0) @binding(0) var<uniform> p: Params;
// seq_logps is only read here, but bound read_write so that the caller may keep all outputs in one buffer.
@group(0) @binding(1) var<storage, read_write> seq_logps: array<f32>;  // [n] the policy's row sums
@group(0) @binding(2) var<storage, read> ref_logps: array<f32>;        // [n]
@group(0) @binding(3) var<storage, read> label_weights: array<f32>;    // [n] +w desirable, -w undesirable
@group(0) @binding(4) var<storage, read> kl_logps: array<f32>;         // [n] the policy's KL row sums (kto)
@group(0) @binding(5) var<storage, read> ref_kl_logps: array<f32>;     // [n] (kto)
@group(0) @binding(6) var<storage, read_write> losses: array<f32>;     // [n] weighted, not normalised
@group(0) @binding(7) var<storage, read_write> kl_out: array<f32>;     // [1]
@group(0) @binding(8) var<storage, read_write> weights: array<f32>;    // [n, T]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = wid.x + wid.y * nwg.x;
  if (i >= p.n) { return; }
  var kl = 0.0;
  if (p.loss_type == KTO) {
    var d = 0.0;
    for (var j = 0u; j < p.n; j++) { d += kl_logps[j] - ref_kl_logps[j]; }
    kl = max(d / f32(p.n), 0.0);
  }
  let x = p.beta * (seq_logps[i] - ref_logps[i] - kl);
  let w = label_weights[i];
  // sigmoid(x) and sigmoid(-x) from exp(-|x|), which cannot overflow.
  let e = exp(-abs(x));
  let big = 1.0 / (1.0 + e);  // sigmoid(|x|)
  let small = e / (1.0 + e);  // sigmoid(-|x|)
  let s_pos = select(small, big, x >= 0.0);  // sigmoid(x)
  let s_neg = select(big, small, x >= 0.0);  // sigmoid(-x)
  let loss = select(-w * s_pos, w * s_neg, w >= 0.0);
  let coef = w * p.beta * (big * small) / p.rows_total;
  let base = i * p.T;
  for (var t = lid; t < p.T; t += WG) { weights[base + t] = coef; }
  if (lid == 0u) {
    losses[i] = loss;
    if (i == 0u) { kl_out[0] = kl; }
  }
}
