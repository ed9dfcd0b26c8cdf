// Row softmax:  y[r, j] = exp(scale*x[r, j] - m_r) / sum_k exp(scale*x[r, k] - m_r)
//   x, y: [rows, L]; the sums and max m_r run over the columns row r sees, the others are 0.
// With `causal` set, row r is query i = r % queries and sees columns j <= i + offset
// (offset = keys - queries: 0 in training, the cached length when generating); with a sliding
// window W > 0, only columns i + offset - W < j <= i + offset (the last W keys, itself included).
//
// One workgroup per row. Each thread folds its strided columns into an online (max, sum of
// exp(v - max)) pair, so one tree reduction in workgroup memory yields both row statistics;
// a second sweep over the row writes the probabilities and the masked zeros.

const WG = 64u;

struct Params { rows: u32, L: u32, queries: u32, offset: u32, causal: u32, scale: f32, window: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// (max, sum of exp(v - max)) per thread; a sum of 0 marks a thread that saw no column.
var<workgroup> partial: array<vec2f, WG>;

fn combine(a: vec2f, b: vec2f) -> vec2f {
  if (b.y == 0.0) { return a; }
  if (a.y == 0.0) { return b; }
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let base = row * p.L;
  // Columns [first, seen) are visible.
  var seen = p.L;
  var first = 0u;
  if (p.causal != 0u) {
    let last = row % p.queries + p.offset;
    seen = min(p.L, last + 1u);
    if (p.window != 0u && last + 1u > p.window) { first = last + 1u - p.window; }
  }

  var acc = vec2f(0.0);
  for (var j = first + lid; j < seen; j += WG) {
    let v = p.scale * x[base + j];
    if (acc.y == 0.0) {
      acc = vec2f(v, 1.0);
    } else if (v > acc.x) {
      acc = vec2f(v, acc.y * exp(acc.x - v) + 1.0);
    } else {
      acc.y += exp(v - acc.x);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] = combine(partial[lid], partial[lid + stride]); }
    workgroupBarrier();
  }
  let row_max = partial[0].x;
  let inv_sum = 1.0 / partial[0].y;  // >= 1: the max column contributes exp(0)

  for (var j = lid; j < p.L; j += WG) {
    var prob = 0.0;
    if (j >= first && j < seen) { prob = exp(p.scale * x[base + j] - row_max) * inv_sum; }
    y[base + j] = prob;
  }
}
