// RMSNorm backward for dx. With g = dy * w and r = rstd[n] from the forward,
//   dx[n, c] = r * (g[c] - x[n, c] * r^2 * sum_k(g[k] * x[n, k]) / C)
// written over dx, or added to it when p.accumulate != 0 (the residual stream's gradient).
// dx, dy, x: [N, C]; w: [C]; rstd: [N].
//
// One workgroup per row, like the forward: strided partial dot products, a tree in workgroup
// memory, then every thread writes its slice. WG must be a power of two.

const WG = 128u;

struct Params { N: u32, C: u32, accumulate: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.N) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let base = row * p.C;

  var gx = 0.0;
  for (var c = lid; c < p.C; c += WG) {
    gx = fma(dy[base + c] * w[c], x[base + c], gx);
  }
  partial[lid] = gx;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let r = rstd[row];
  let k = r * r * partial[0] / f32(p.C);

  for (var c = lid; c < p.C; c += WG) {
    let i = base + c;
    var v = r * (dy[i] * w[c] - x[i] * k);
    if (p.accumulate != 0u) { v += dx[i]; }  // overwriting never reads dx (it may hold NaN)
    dx[i] = v;
  }
}
