// One fused AdamW step over flat buffers, as torch.optim.AdamW (decoupled weight decay), with
// the gradient clipped by its global norm as torch.nn.utils.clip_grad_norm_ does:
//   clip  = min(max_grad_norm / (sqrt(sumsq[0]) + 1e-6), 1)     (1 when max_grad_norm <= 0)
//   g     = grad * clip
//   param = param * (1 - lr * weight_decay)
//   m     = beta1 * m + (1 - beta1) * g
//   v     = beta2 * v + (1 - beta2) * g^2
//   param = param - step_size * (m / (sqrt(v) / bc2_sqrt + eps))
// param, grad, m, v: [n], one layout; sumsq: [1] = sum of grad^2 (sumsq.wgsl). The host computes
// step_size = lr / (1 - beta1^step), bc2_sqrt = sqrt(1 - beta2^step), 1 - lr*wd and 1 - beta in
// float64. grad is only read: the clipped gradient lives in registers.
// halt: [1] u32; when not 0 the step changes nothing (flagNonFinite raised it: the step's loss or gradient norm is not
// finite), so a step the host will refuse once it reads its loss never reached the weights.
//
// Each thread owns one vec4 of every buffer; a partial last vec4 is stored one component at a
// time so the elements past n (the next tensor of a shared buffer) are never written.

const WG = 64u;

struct Params {
  n: u32, max_grad_norm: f32, beta1: f32, one_minus_beta1: f32,
  beta2: f32, one_minus_beta2: f32, eps: f32, decay: f32,
  step_size: f32, bc2_sqrt: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4f>;
@group(0) @binding(2) var<storage, read> grad: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(5) var<storage, read> sumsq: array<f32>;
@group(0) @binding(6) var<storage, read> halt: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;  // the grid may be folded into y
  if (4u * i >= p.n || halt[0] != 0u) { return; }
  var clip = 1.0;
  if (p.max_grad_norm > 0.0) { clip = min(p.max_grad_norm / (sqrt(sumsq[0]) + 1e-6), 1.0); }  // else sumsq is never read
  let g = grad[i] * clip;
  let m1 = p.beta1 * m[i] + p.one_minus_beta1 * g;
  let v1 = p.beta2 * v[i] + p.one_minus_beta2 * (g * g);
  let p1 = param[i] * p.decay - p.step_size * (m1 / (sqrt(v1) / p.bc2_sqrt + p.eps));
  if (4u * i + 4u <= p.n) {
    param[i] = p1;
    m[i] = m1;
    v[i] = v1;
    return;
  }
  for (var j = 0u; 4u * i + j < p.n; j++) {
    param[i][j] = p1[j];
    m[i][j] = m1[j];
    v[i][j] = v1[j];
  }
}
