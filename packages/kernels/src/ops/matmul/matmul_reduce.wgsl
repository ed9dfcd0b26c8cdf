// Finish a split-K matmul: C[b, m, n] = alpha * sum_s P[s, b, m, n] + beta * C[b, m, n],
// with C addressed through the same strides as matmul.wgsl. One thread per element of C.

struct Operand { offset: u32, stride0: u32, stride1: u32, div1: u32 }
struct Params {
  M: u32, N: u32, splits: u32, batch: u32,
  batch1: u32, ldc: u32, groups: u32, _pad0: u32,
  c: Operand,
  alpha: f32, beta: f32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> P: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  let e = g * 256u + lid;
  let total = p.batch * p.M * p.N;
  if (e >= total) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.splits; k++) { s += P[k * total + e]; }
  let n = e % p.N;
  let m = (e / p.N) % p.M;
  let bt = e / (p.M * p.N);
  let idx = p.c.offset + (bt / p.batch1) * p.c.stride0 + ((bt % p.batch1) / p.c.div1) * p.c.stride1 + m * p.ldc + n;
  var r = p.alpha * s;
  if (p.beta != 0.0) { r += p.beta * C[idx]; }
  C[idx] = r;
}
