// Batched matrix multiply:  C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]
//   op(A): [M, K], stored [M, K] with row stride lda, or [K, M] when TRANS_A
//   op(B): [K, N], stored [K, N] with row stride ldb, or [N, K] when TRANS_B
//   C:     [M, N] with row stride ldc
// Batch b in [0, batch) splits as b0 = b / batch1, b1 = b % batch1; an operand's batch offset
// is offset + b0*stride0 + (b1/div1)*stride1 (div1 > 1 shares one K/V head among query heads).
//
// Each workgroup computes a BM x BN tile of C (BM = 4*WG_Y, BN = 4*WG_X), each thread a 4x4
// block, stepping through K in BK slices staged in workgroup memory as vec4 columns
// (As[k][m/4] holds op(A)[m..m+3, k]), so the inner loop is 2 vec4 loads and 4 vec4 FMAs. With
// SPLIT_K the K range is cut into chunks, one per workgroup layer, and raw partial sums go to
// `C` laid out [splits, batch, M, N] for matmul_reduce.wgsl to finish.
//
// A and B are bound twice, as array<f32> and array<vec4f>; VEC_A/VEC_B pick the vec4 loads
// when the stored rows are 4-aligned (host-checked), otherwise scalar loads with bounds checks.
// With DIRECT (short K) nothing is staged: each thread reads its operands from memory.

const WG_X = 16u;
const WG_Y = 16u;
const BK = 16u;
const TRANS_A = false;
const TRANS_B = false;
const VEC_A = false;
const VEC_B = false;
const SPLIT_K = false;
const DIRECT = false;

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

// Stored A, row r, columns c..c+3; zero outside rows x cols. (Static component writes only:
// dynamic vector indexing pushes values out of registers on many compilers.)
fn load_a(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4f {
  if (r >= rows) { return vec4f(0.0); }
  let i = base + r * p.lda + c;
  if (VEC_A) {
    if (c >= cols) { return vec4f(0.0); }
    return A4[i / 4u];
  }
  var v = vec4f(0.0);
  if (c < cols) { v.x = A1[i]; }
  if (c + 1u < cols) { v.y = A1[i + 1u]; }
  if (c + 2u < cols) { v.z = A1[i + 2u]; }
  if (c + 3u < cols) { v.w = A1[i + 3u]; }
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
  if (c < cols) { v.x = B1[i]; }
  if (c + 1u < cols) { v.y = B1[i + 1u]; }
  if (c + 2u < cols) { v.z = B1[i + 2u]; }
  if (c + 3u < cols) { v.w = B1[i + 3u]; }
  return v;
}

// op(A)[m..m+3, k] for the direct path: one vec4 when A is stored [K, M], else four rows.
fn column_a(base: u32, m: u32, k: u32) -> vec4f {
  if (TRANS_A) { return load_a(base, k, m, p.K, p.M); }
  var v = vec4f(0.0);
  if (m < p.M) { v.x = A1[base + m * p.lda + k]; }
  if (m + 1u < p.M) { v.y = A1[base + (m + 1u) * p.lda + k]; }
  if (m + 2u < p.M) { v.z = A1[base + (m + 2u) * p.lda + k]; }
  if (m + 3u < p.M) { v.w = A1[base + (m + 3u) * p.lda + k]; }
  return v;
}

// op(B)[k, n..n+3] for the direct path: one vec4 when B is stored [K, N], else four rows.
fn row_b(base: u32, k: u32, n: u32) -> vec4f {
  if (!TRANS_B) { return load_b(base, k, n, p.K, p.N); }
  var v = vec4f(0.0);
  if (n < p.N) { v.x = B1[base + n * p.ldb + k]; }
  if (n + 1u < p.N) { v.y = B1[base + (n + 1u) * p.ldb + k]; }
  if (n + 2u < p.N) { v.z = B1[base + (n + 2u) * p.ldb + k]; }
  if (n + 3u < p.N) { v.w = B1[base + (n + 3u) * p.ldb + k]; }
  return v;
}

// Stage op(A)[m0.., k0..] into As, 4x4 blocks at a time. Stored [M, K] (no TRANS_A) runs along k,
// so a thread loads four rows and transposes the block in registers before storing columns.
fn stage_a(lid: u32, a_base: u32, m0: u32, k0: u32, k_end: u32) {
  for (var blk = lid; blk < BM4 * BK4; blk += THREADS) {
    let mb = blk % BM4;
    let kb = blk / BM4;
    let m = m0 + 4u * mb;
    let k = k0 + 4u * kb;
    let dst = 4u * kb * BM4 + mb;
    if (TRANS_A) {  // stored [K, M]: each loaded vec4 already runs along m
      As[dst] = load_a(a_base, k, m, k_end, p.M);
      As[dst + BM4] = load_a(a_base, k + 1u, m, k_end, p.M);
      As[dst + 2u * BM4] = load_a(a_base, k + 2u, m, k_end, p.M);
      As[dst + 3u * BM4] = load_a(a_base, k + 3u, m, k_end, p.M);
    } else {
      let r0 = load_a(a_base, m, k, p.M, k_end);
      let r1 = load_a(a_base, m + 1u, k, p.M, k_end);
      let r2 = load_a(a_base, m + 2u, k, p.M, k_end);
      let r3 = load_a(a_base, m + 3u, k, p.M, k_end);
      As[dst] = vec4f(r0.x, r1.x, r2.x, r3.x);
      As[dst + BM4] = vec4f(r0.y, r1.y, r2.y, r3.y);
      As[dst + 2u * BM4] = vec4f(r0.z, r1.z, r2.z, r3.z);
      As[dst + 3u * BM4] = vec4f(r0.w, r1.w, r2.w, r3.w);
    }
  }
}

// Stage op(B)[k0.., n0..] into Bs. Stored [K, N] runs along n already; stored [N, K] (TRANS_B)
// is transposed in registers like A above.
fn stage_b(lid: u32, b_base: u32, n0: u32, k0: u32, k_end: u32) {
  for (var blk = lid; blk < BN4 * BK4; blk += THREADS) {
    let nb = blk % BN4;
    let kb = blk / BN4;
    let n = n0 + 4u * nb;
    let k = k0 + 4u * kb;
    let dst = 4u * kb * BN4 + nb;
    if (TRANS_B) {
      let r0 = load_b(b_base, n, k, p.N, k_end);
      let r1 = load_b(b_base, n + 1u, k, p.N, k_end);
      let r2 = load_b(b_base, n + 2u, k, p.N, k_end);
      let r3 = load_b(b_base, n + 3u, k, p.N, k_end);
      Bs[dst] = vec4f(r0.x, r1.x, r2.x, r3.x);
      Bs[dst + BN4] = vec4f(r0.y, r1.y, r2.y, r3.y);
      Bs[dst + 2u * BN4] = vec4f(r0.z, r1.z, r2.z, r3.z);
      Bs[dst + 3u * BN4] = vec4f(r0.w, r1.w, r2.w, r3.w);
    } else {
      Bs[dst] = load_b(b_base, k, n, k_end, p.N);
      Bs[dst + BN4] = load_b(b_base, k + 1u, n, k_end, p.N);
      Bs[dst + 2u * BN4] = load_b(b_base, k + 2u, n, k_end, p.N);
      Bs[dst + 3u * BN4] = load_b(b_base, k + 3u, n, k_end, p.N);
    }
  }
}

fn store1(c_base: u32, split: u32, bt: u32, m: u32, n: u32, v: f32) {
  if (n >= p.N) { return; }
  if (SPLIT_K) {
    C[((split * p.batch + bt) * p.M + m) * p.N + n] = v;
  } else {
    let idx = c_base + m * p.ldc + n;
    var r = p.alpha * v;
    if (p.beta != 0.0) { r += p.beta * C[idx]; }  // beta == 0 never reads C (it may hold NaN)
    C[idx] = r;
  }
}

fn store_row(c_base: u32, split: u32, bt: u32, m: u32, n: u32, v: vec4f) {
  if (m >= p.M) { return; }
  store1(c_base, split, bt, m, n, v.x);
  store1(c_base, split, bt, m, n + 1u, v.y);
  store1(c_base, split, bt, m, n + 2u, v.z);
  store1(c_base, split, bt, m, n + 3u, v.w);
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

  // This thread's 4x4 block of C: rows 4*ty.., columns 4*tx.., one vec4 per row.
  let m = m0 + 4u * ty;
  let n = n0 + 4u * tx;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  if (DIRECT) {
    // Short K (LoRA's rank): staging tiles would cost two barriers for a handful of FMAs, so each
    // thread reads its operands straight from memory (neighbours share them through the cache).
    for (var k = k_begin; k < k_end; k++) {
      let a = column_a(a_base, m, k);
      let b = row_b(b_base, k, n);
      acc0 = fma(vec4f(a.x), b, acc0);
      acc1 = fma(vec4f(a.y), b, acc1);
      acc2 = fma(vec4f(a.z), b, acc2);
      acc3 = fma(vec4f(a.w), b, acc3);
    }
  } else {
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
      stage_a(lid, a_base, m0, k0, k_end);
      stage_b(lid, b_base, n0, k0, k_end);
      workgroupBarrier();
      for (var k = 0u; k < BK; k++) {
        let a = As[k * BM4 + ty];
        let b = Bs[k * BN4 + tx];
        acc0 = fma(vec4f(a.x), b, acc0);
        acc1 = fma(vec4f(a.y), b, acc1);
        acc2 = fma(vec4f(a.z), b, acc2);
        acc3 = fma(vec4f(a.w), b, acc3);
      }
      workgroupBarrier();
    }
  }

  let c_base = batch_offset(p.c, bt);
  store_row(c_base, split, bt, m, n, acc0);
  store_row(c_base, split, bt, m + 1u, n, acc1);
  store_row(c_base, split, bt, m + 2u, n, acc2);
  store_row(c_base, split, bt, m + 3u, n, acc3);
}
