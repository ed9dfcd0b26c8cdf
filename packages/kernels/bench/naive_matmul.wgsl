// The naive peer for `pnpm bench`: one thread per output element, a scalar loop over K, no
// workgroup memory. C[m, n] = sum_k op(A)[m, k] * op(B)[k, n].
const TRANS_A = false;
const TRANS_B = false;

struct Params { M: u32, N: u32, K: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let n = id.x;
  let m = id.y;
  if (m >= p.M || n >= p.N) { return; }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) {
    let a = select(A[m * p.K + k], A[k * p.M + m], TRANS_A);
    let b = select(B[k * p.N + n], B[n * p.K + k], TRANS_B);
    s += a * b;
  }
  C[m * p.N + n] = s;
}
