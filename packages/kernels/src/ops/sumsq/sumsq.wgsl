// Sum of squares of a flat tensor, for the global gradient norm, in two passes of this kernel:
//   SQUARE = true:   out[g] = sum of x[i]^2 over the elements workgroup g visits   x: [n], out: [groups]
//   SQUARE = false:  out[0] = sum of x[i] (one workgroup adds the partials up)     x: [groups], out: [1]
// Workgroup g's threads read vec4s g*WG + lid, then stride by the whole grid (p.stride vec4s): every
// pass is coalesced, and the host caps the grid so there are few partials. Each thread sums its vec4s in registers, then a tree in workgroup memory joins the
// threads. The summation order depends only on n: the result is deterministic.

const WG = 256u;
const SQUARE = true;

struct Params { n: u32, stride: u32, groups: u32 }  // stride = groups * WG

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

var<workgroup> sums: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.groups) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let n4 = (p.n + 3u) / 4u;
  var acc = vec4f(0.0);
  for (var i = g * WG + lid; i < n4; i += p.stride) {
    var v = x[i];
    // The last vec4 may run past n into padding or the next tensor of a shared buffer.
    if (4u * i + 4u > p.n) { v = select(vec4f(0.0), v, vec4u(4u * i) + vec4u(0u, 1u, 2u, 3u) < vec4u(p.n)); }
    if (SQUARE) { v *= v; }
    acc += v;
  }
  sums[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { sums[lid] += sums[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[g] = sums[0]; }
}
