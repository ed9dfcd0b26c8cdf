// Softmax backward:  dx[r, j] = p[r, j] * (dp[r, j] - sum_k p[r, k] * dp[r, k])
//   p, dp, dx: [rows, L]. Masked columns hold p = 0, so their dx is 0 without knowing the mask.
// One workgroup per row: strided partial dot products, one tree reduction in workgroup memory.

const WG = 64u;

struct Params { rows: u32, L: u32 }

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> dp: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let base = row * params.L;

  var acc = 0.0;
  for (var j = lid; j < params.L; j += WG) { acc += p[base + j] * dp[base + j]; }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let row_dot = partial[0];

  for (var j = lid; j < params.L; j += WG) { dx[base + j] = p[base + j] * (dp[base + j] - row_dot); }
}
