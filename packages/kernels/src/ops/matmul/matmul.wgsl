// Batched matrix multiply:  C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]
//   op(A): [M, K], stored [M, K] with row stride lda, or [K, M] when TRANS_A
//   op(B): [K, N], stored [K, N] with row stride ldb, or [N, K] when TRANS_B
//   C:     [M, N] with row stride ldc
// Batch b in [0, batch) splits as b0 = b / batch1, b1 = b % batch1; an operand's batch offset
// is offset + b0*stride0 + (b1/div1)*stride1 (div1 > 1 shares one K/V head among query heads).
//
// Each workgroup computes a BM x BN tile of C (BM = 4*WG_Y, BN = 4*WG_X), each thread a 4x4
// block, stepping through K in BK slices staged in workgroup memory as vec4 columns. With
// SPLIT_K the K range is cut into chunks, one per workgroup layer, and raw partial sums go to
// `C` laid out [splits, batch, M, N] for matmul_reduce.wgsl to finish.
//
// A and B are bound twice, as array<f32> and array<vec4f>; VEC_A/VEC_B pick the vec4 loads
// when the stored rows are 4-aligned (host-checked), otherwise scalar loads with bounds checks.

const WG_X = 16u;
const WG_Y = 16u;
const BK = 16u;
const TRANS_A = false;
const TRANS_B = false;
const VEC_A = false;
const VEC_B = false;
const SPLIT_K = false;

const BM4 = WG_Y;
const BN4 = WG_X;
const BM = 4u * BM4;
const BN = 4u * BN4;
const THREADS = WG_X * WG_Y;
const BK4 = BK / 4u;

struct Operand { offset: u32, stride0: u32, stride1: u32, div1: u32 }
struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  batch1: u32, lda: u32, ldb: u32, ldc: u32,
  a: Operand,
  b: Operand,
  c: Operand,
  alpha: f32, beta: f32, k_chunk: u32, groups: u32,
  tiles_n: u32, tiles_m: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A1: array<f32>;
@group(0) @binding(2) var<storage, read> A4: array<vec4f>;
@group(0) @binding(3) var<storage, read> B1: array<f32>;
@group(0) @binding(4) var<storage, read> B4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<vec4f, BK * BM4>;  // As[k*BM4 + m/4][m%4] = op(A)[m0+m, k0+k]
var<workgroup> Bs: array<vec4f, BK * BN4>;  // Bs[k*BN4 + n/4][n%4] = op(B)[k0+k, n0+n]

fn batch_offset(o: Operand, bt: u32) -> u32 {
  return o.offset + (bt / p.batch1) * o.stride0 + ((bt % p.batch1) / o.div1) * o.stride1;
}

// Stored A, row r, columns c..c+3; zero outside rows x cols.
fn load_a(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4f {
  if (r >= rows) { return vec4f(0.0); }
  let i = base + r * p.lda + c;
  if (VEC_A) {
    if (c >= cols) { return vec4f(0.0); }
    return A4[i / 4u];
  }
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (c + j < cols) { v[j] = A1[i + j]; }
  }
  return v;
}

fn load_b(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4f {
  if (r >= rows) { return vec4f(0.0); }
  let i = base + r * p.ldb + c;
  if (VEC_B) {
    if (c >= cols) { return vec4f(0.0); }
    return B4[i / 4u];
  }
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (c + j < cols) { v[j] = B1[i + j]; }
  }
  return v;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid3: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.groups) { return; }  // uniform per workgroup: the grid was folded to fit the limits
  let tn = g % p.tiles_n;
  let tm = (g / p.tiles_n) % p.tiles_m;
  let layer = g / (p.tiles_n * p.tiles_m);
  let bt = layer % p.batch;
  let split = layer / p.batch;
  let m0 = tm * BM;
  let n0 = tn * BN;
  let k_begin = split * p.k_chunk;
  let k_end = min(p.K, k_begin + p.k_chunk);
  let a_base = batch_offset(p.a, bt);
  let b_base = batch_offset(p.b, bt);
  let tx = lid3.x;
  let ty = lid3.y;

  var acc: array<vec4f, 4>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    // Stage op(A)[m0.., k0..] and op(B)[k0.., n0..]: 4 contiguous stored elements per step.
    for (var i = lid; i < BM * BK4; i += THREADS) {
      if (TRANS_A) {  // stored [K, M]: a vec4 runs along m
        let k = i / BM4;
        let m4 = i % BM4;
        As[k * BM4 + m4] = load_a(a_base, k0 + k, m0 + 4u * m4, k_end, p.M);
      } else {  // stored [M, K]: a vec4 runs along k
        let m = i / BK4;
        let k = 4u * (i % BK4);
        let v = load_a(a_base, m0 + m, k0 + k, p.M, k_end);
        for (var j = 0u; j < 4u; j++) { As[(k + j) * BM4 + m / 4u][m % 4u] = v[j]; }
      }
    }
    for (var i = lid; i < BN * BK4; i += THREADS) {
      if (TRANS_B) {  // stored [N, K]: a vec4 runs along k
        let n = i / BK4;
        let k = 4u * (i % BK4);
        let v = load_b(b_base, n0 + n, k0 + k, p.N, k_end);
        for (var j = 0u; j < 4u; j++) { Bs[(k + j) * BN4 + n / 4u][n % 4u] = v[j]; }
      } else {  // stored [K, N]: a vec4 runs along n
        let k = i / BN4;
        let n4 = i % BN4;
        Bs[k * BN4 + n4] = load_b(b_base, k0 + k, n0 + 4u * n4, k_end, p.N);
      }
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = As[k * BM4 + ty];
      let b = Bs[k * BN4 + tx];
      acc[0] = fma(vec4f(a.x), b, acc[0]);
      acc[1] = fma(vec4f(a.y), b, acc[1]);
      acc[2] = fma(vec4f(a.z), b, acc[2]);
      acc[3] = fma(vec4f(a.w), b, acc[3]);
    }
    workgroupBarrier();
  }

  let c_base = batch_offset(p.c, bt);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * ty + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + 4u * tx + j;
      if (n >= p.N) { break; }
      if (SPLIT_K) {
        C[((split * p.batch + bt) * p.M + m) * p.N + n] = acc[i][j];
      } else {
        let idx = c_base + m * p.ldc + n;
        var r = p.alpha * acc[i][j];
        if (p.beta != 0.0) { r += p.beta * C[idx]; }  // beta == 0 never reads C (it may hold NaN)
        C[idx] = r;
      }
    }
  }
}
