// RMSNorm forward, as Llama/Qwen2 compute it in float32:
//   rstd[n] = 1 / sqrt(mean_c x[n, c]^2 + eps)
//   y[n, c] = (x[n, c] * rstd[n]) * w[c]
// x, y: [N, C]; w: [C]; rstd: [N] (kept for the backward).
//
// One workgroup per row: each thread sums the squares of a strided slice of the row (adjacent
// threads read adjacent columns), a tree in workgroup memory finishes the sum, then every
// thread scales its slice. WG must be a power of two.

const WG = 128u;

struct Params { N: u32, C: u32, eps: f32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let base = row * p.C;

  var sum_sq = 0.0;
  for (var c = lid; c < p.C; c += WG) {
    let v = x[base + c];
    sum_sq = fma(v, v, sum_sq);
  }
  partial[lid] = sum_sq;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(partial[0] / f32(p.C) + p.eps);

  if (lid == 0u) { rstd[row] = r; }
  for (var c = lid; c < p.C; c += WG) {
    y[base + c] = (x[base + c] * r) * w[c];
  }
}
