// RMSNorm backward for the weight: dw[c] = sum_n dy[n, c] * x[n, c] * rstd[n], overwriting dw.
// dy, x: [N, C]; rstd: [N]; dw: [C].
//
// No atomics and a fixed summation order: each workgroup owns COLS adjacent columns (one
// coalesced run per row) and LANES threads per column walk the rows LANES apart; a tree over
// the lanes in workgroup memory finishes each column. LANES must be a power of two.

const COLS = 32u;
const LANES = 8u;

struct Params { N: u32, C: u32, groups: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

var<workgroup> partial: array<f32, COLS * LANES>;  // partial[lane * COLS + col]

@compute @workgroup_size(COLS, LANES)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.groups) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let col = g * COLS + lid.x;
  let lane = lid.y;

  var sum = 0.0;
  if (col < p.C) {  // past the last column: still take part in the barriers below
    for (var n = lane; n < p.N; n += LANES) {
      let i = n * p.C + col;
      sum = fma(dy[i] * x[i], rstd[n], sum);
    }
  }
  partial[lane * COLS + lid.x] = sum;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) { partial[lane * COLS + lid.x] += partial[(lane + stride) * COLS + lid.x]; }
    workgroupBarrier();
  }
  if (lane == 0u && col < p.C) { dw[col] = partial[lid.x]; }
}
