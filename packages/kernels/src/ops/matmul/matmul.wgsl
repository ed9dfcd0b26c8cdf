// Batched matrix multiply:  C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]
//   op(A): [M, K], stored [M, K] with row stride lda, or [K, M] when TRANS_A
//   op(B): [K, N], stored [K, N] with row stride ldb, or [N, K] when TRANS_B
//   C:     [M, N] with row stride ldc
// Batch b in [0, batch) splits as b0 = b / batch1, b1 = b % batch1; an operand's batch offset
// is offset + b0*stride0 + (b1/div1)*stride1 (div1 > 1 shares one K/V head among query heads).
//
// Each workgroup computes a BM x BN tile of C (BM = TM*WG_Y, BN = TN*WG_X); thread (tx, ty) a
// TM x TN block: rows TM*ty.. (contiguous) and columns tx + WG_X*j (strided, so neighbouring
// threads hold neighbouring columns). K is walked in BK slices staged in workgroup memory: op(A)
// as vec4 columns (As[k][m/4] holds op(A)[m..m+3, k]), op(B) as plain rows (Bs[k][n]). Per k a
// thread reads TM/4 vec4s of A (the same address for every thread of a row: a broadcast) and TN
// scalars of B (consecutive threads, consecutive words: no bank conflicts), then does TM*TN FMAs.
// With SPLIT_K the K range is cut into chunks, one per workgroup layer, and raw partial sums go
// to `C` laid out [splits, batch, M, N] for matmul_reduce.wgsl to finish.
//
// A and B are bound twice, as array<f32> and array<vec4f>; VEC_A/VEC_B pick the vec4 loads
// when the stored rows are 4-aligned (host-checked), otherwise scalar loads with bounds checks.
// With DIRECT (short K) nothing is staged: each thread reads its operands from memory.
//
// B is bound as words (array<u32>, array<vec4u>) so that frozen weights can stay in their
// checkpoint's dtype: B_PACK 1 is bf16 and 2 is f16, two to a word (element 2i in the low half),
// widened exactly to f32 as they are loaded (bf16 is the top half of an f32; f16 through core
// WGSL's unpack2x16float, no shader-f16 needed); everything after the load is f32 as with B_PACK 0
// (f32 words, bitcast), so the sums are the same as for the widened weights, bit for bit.
//
// Why 8x8 blocks (matmul.ts picks TM = TN = 8, BK = 32 for large outputs) is sound on real GPUs:
// ~100 registers a thread (CUTLASS's SGEMM block), 16 KiB of workgroup memory (the default limit),
// 16 shared reads per 64 FMAs, and a barrier pair per 2048 FMAs a thread; CPU WebGPU (SwiftShader)
// runs each barrier as a switch of every 4-wide subgroup, so it gains the most from the last.

const WG_X = 16u;
const WG_Y = 8u;
const TM = 8u;  // rows per thread: 4 or 8
const TN = 4u;  // columns per thread: 4 or 8
const BK = 32u;
const TRANS_A = false;
const TRANS_B = false;
const VEC_A = false;
const VEC_B = false;
const SPLIT_K = false;
const DIRECT = false;
const B_PACK = 0u;  // 0: f32; 1: bf16 pairs; 2: f16 pairs

const BM = TM * WG_Y;
const BN = TN * WG_X;
const BM4 = BM / 4u;
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
@group(0) @binding(3) var<storage, read> B1: array<u32>;
@group(0) @binding(4) var<storage, read> B4: array<vec4u>;
@group(0) @binding(5) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<vec4f, BK * BM4>;  // As[k*BM4 + m/4][m%4] = op(A)[m0+m, k0+k]
var<workgroup> Bs: array<f32, BK * BN>;     // Bs[k*BN + n] = op(B)[k0+k, n0+n]

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

// Stored B's element i, as f32.
fn b_elem(i: u32) -> f32 {
  if (B_PACK == 0u) { return bitcast<f32>(B1[i]); }
  let w = B1[i / 2u];
  if (B_PACK == 1u) { return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u)); }
  return unpack2x16float(w)[i & 1u];
}

// Stored B's elements i..i+3, i a multiple of 4 (VEC_B), as f32.
fn b_vec4(i: u32) -> vec4f {
  if (B_PACK == 0u) { return bitcast<vec4f>(B4[i / 4u]); }
  let w0 = B1[i / 2u];
  let w1 = B1[i / 2u + 1u];
  if (B_PACK == 1u) { return bitcast<vec4f>(vec4u(w0 << 16u, w0 & 0xffff0000u, w1 << 16u, w1 & 0xffff0000u)); }
  return vec4f(unpack2x16float(w0), unpack2x16float(w1));
}

fn load_b(base: u32, r: u32, c: u32, rows: u32, cols: u32) -> vec4f {
  if (r >= rows) { return vec4f(0.0); }
  let i = base + r * p.ldb + c;
  if (VEC_B) {
    if (c >= cols) { return vec4f(0.0); }
    return b_vec4(i);
  }
  var v = vec4f(0.0);
  if (c < cols) { v.x = b_elem(i); }
  if (c + 1u < cols) { v.y = b_elem(i + 1u); }
  if (c + 2u < cols) { v.z = b_elem(i + 2u); }
  if (c + 3u < cols) { v.w = b_elem(i + 3u); }
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

// op(B)[k, n] for the direct path (k < K); zero past N.
fn b_at(base: u32, k: u32, n: u32) -> f32 {
  if (n >= p.N) { return 0.0; }
  if (TRANS_B) { return b_elem(base + n * p.ldb + k); }
  return b_elem(base + k * p.ldb + n);
}

// op(B)[k, n + WG_X*j] for j = 0..3: a thread's strided columns, for the direct path.
fn row_b(base: u32, k: u32, n: u32) -> vec4f {
  return vec4f(b_at(base, k, n), b_at(base, k, n + WG_X), b_at(base, k, n + 2u * WG_X), b_at(base, k, n + 3u * WG_X));
}

// Stage op(A)[m0.., k0..] into As. Stored [K, M] (TRANS_A) runs along m as As does: one element
// per thread per step, neighbouring threads on neighbouring words (coalesced loads, conflict-free
// stores). Stored [M, K] runs along k: a thread loads a 4x4 block as four row vec4s and
// transposes it in registers, so its stores are whole vec4 columns.
fn stage_a(lid: u32, a_base: u32, m0: u32, k0: u32, k_end: u32) {
  if (TRANS_A) {
    for (var e = lid; e < BK * BM; e += THREADS) {
      let k = e / BM;
      let m = e % BM;
      var v = 0.0;
      if (k0 + k < k_end && m0 + m < p.M) { v = A1[a_base + (k0 + k) * p.lda + m0 + m]; }
      As[k * BM4 + m / 4u][m % 4u] = v;  // a dynamic component of memory, not of a register
    }
    return;
  }
  for (var blk = lid; blk < BM4 * BK4; blk += THREADS) {
    let mb = blk % BM4;
    let kb = blk / BM4;
    let m = m0 + 4u * mb;
    let k = k0 + 4u * kb;
    let dst = 4u * kb * BM4 + mb;
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

// Stage op(B)[k0.., n0..] into Bs. Stored [K, N] runs along n as Bs does: one element per thread
// per step, as for A above. Stored [N, K] (TRANS_B) runs along k: a thread loads four k of one
// row n (a vec4 when aligned) and stores them down a column, neighbouring threads on
// neighbouring n, so each of the four stores is conflict-free.
fn stage_b(lid: u32, b_base: u32, n0: u32, k0: u32, k_end: u32) {
  if (TRANS_B) {
    for (var blk = lid; blk < BN * BK4; blk += THREADS) {
      let n = blk % BN;
      let kb = blk / BN;
      let v = load_b(b_base, n0 + n, k0 + 4u * kb, p.N, k_end);
      let dst = 4u * kb * BN + n;
      Bs[dst] = v.x;
      Bs[dst + BN] = v.y;
      Bs[dst + 2u * BN] = v.z;
      Bs[dst + 3u * BN] = v.w;
    }
    return;
  }
  for (var e = lid; e < BK * BN; e += THREADS) {
    let k = e / BN;
    let n = e % BN;
    var v = 0.0;
    if (k0 + k < k_end && n0 + n < p.N) { v = b_elem(b_base + (k0 + k) * p.ldb + n0 + n); }
    Bs[e] = v;
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

// Row m, columns n + WG_X*j for j = 0..3.
fn store_row(c_base: u32, split: u32, bt: u32, m: u32, n: u32, v: vec4f) {
  if (m >= p.M) { return; }
  store1(c_base, split, bt, m, n, v.x);
  store1(c_base, split, bt, m, n + WG_X, v.y);
  store1(c_base, split, bt, m, n + 2u * WG_X, v.z);
  store1(c_base, split, bt, m, n + 3u * WG_X, v.w);
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

  // This thread's block of C: rows m.. m+TM-1, columns n + WG_X*j. cRJ holds row R's
  // columns j = 4J..4J+3 (J = 1 only when TN = 8); rows 4..7 only when TM = 8.
  let m = m0 + TM * ty;
  let n = n0 + tx;
  var c00 = vec4f(0.0);
  var c10 = vec4f(0.0);
  var c20 = vec4f(0.0);
  var c30 = vec4f(0.0);
  var c40 = vec4f(0.0);
  var c50 = vec4f(0.0);
  var c60 = vec4f(0.0);
  var c70 = vec4f(0.0);
  var c01 = vec4f(0.0);
  var c11 = vec4f(0.0);
  var c21 = vec4f(0.0);
  var c31 = vec4f(0.0);
  var c41 = vec4f(0.0);
  var c51 = vec4f(0.0);
  var c61 = vec4f(0.0);
  var c71 = vec4f(0.0);
  if (DIRECT) {
    // Short K (LoRA's rank): staging tiles would cost two barriers for a handful of FMAs, so each
    // thread reads its operands straight from memory (neighbours share them through the cache).
    for (var k = k_begin; k < k_end; k++) {
      let a0 = column_a(a_base, m, k);
      let b0 = row_b(b_base, k, n);
      c00 = fma(vec4f(a0.x), b0, c00);
      c10 = fma(vec4f(a0.y), b0, c10);
      c20 = fma(vec4f(a0.z), b0, c20);
      c30 = fma(vec4f(a0.w), b0, c30);
      var a1 = vec4f(0.0);
      if (TM == 8u) {
        a1 = column_a(a_base, m + 4u, k);
        c40 = fma(vec4f(a1.x), b0, c40);
        c50 = fma(vec4f(a1.y), b0, c50);
        c60 = fma(vec4f(a1.z), b0, c60);
        c70 = fma(vec4f(a1.w), b0, c70);
      }
      if (TN == 8u) {
        let b1 = row_b(b_base, k, n + 4u * WG_X);
        c01 = fma(vec4f(a0.x), b1, c01);
        c11 = fma(vec4f(a0.y), b1, c11);
        c21 = fma(vec4f(a0.z), b1, c21);
        c31 = fma(vec4f(a0.w), b1, c31);
        if (TM == 8u) {
          c41 = fma(vec4f(a1.x), b1, c41);
          c51 = fma(vec4f(a1.y), b1, c51);
          c61 = fma(vec4f(a1.z), b1, c61);
          c71 = fma(vec4f(a1.w), b1, c71);
        }
      }
    }
  } else {
    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
      stage_a(lid, a_base, m0, k0, k_end);
      stage_b(lid, b_base, n0, k0, k_end);
      workgroupBarrier();
      for (var k = 0u; k < BK; k++) {
        let ai = k * BM4 + (TM / 4u) * ty;
        let bi = k * BN + tx;
        let a0 = As[ai];
        let b0 = vec4f(Bs[bi], Bs[bi + WG_X], Bs[bi + 2u * WG_X], Bs[bi + 3u * WG_X]);
        c00 = fma(vec4f(a0.x), b0, c00);
        c10 = fma(vec4f(a0.y), b0, c10);
        c20 = fma(vec4f(a0.z), b0, c20);
        c30 = fma(vec4f(a0.w), b0, c30);
        var a1 = vec4f(0.0);
        if (TM == 8u) {
          a1 = As[ai + 1u];
          c40 = fma(vec4f(a1.x), b0, c40);
          c50 = fma(vec4f(a1.y), b0, c50);
          c60 = fma(vec4f(a1.z), b0, c60);
          c70 = fma(vec4f(a1.w), b0, c70);
        }
        if (TN == 8u) {
          let bj = bi + 4u * WG_X;
          let b1 = vec4f(Bs[bj], Bs[bj + WG_X], Bs[bj + 2u * WG_X], Bs[bj + 3u * WG_X]);
          c01 = fma(vec4f(a0.x), b1, c01);
          c11 = fma(vec4f(a0.y), b1, c11);
          c21 = fma(vec4f(a0.z), b1, c21);
          c31 = fma(vec4f(a0.w), b1, c31);
          if (TM == 8u) {
            c41 = fma(vec4f(a1.x), b1, c41);
            c51 = fma(vec4f(a1.y), b1, c51);
            c61 = fma(vec4f(a1.z), b1, c61);
            c71 = fma(vec4f(a1.w), b1, c71);
          }
        }
      }
      workgroupBarrier();
    }
  }

  let c_base = batch_offset(p.c, bt);
  let n1 = n + 4u * WG_X;
  store_row(c_base, split, bt, m, n, c00);
  store_row(c_base, split, bt, m + 1u, n, c10);
  store_row(c_base, split, bt, m + 2u, n, c20);
  store_row(c_base, split, bt, m + 3u, n, c30);
  if (TN == 8u) {
    store_row(c_base, split, bt, m, n1, c01);
    store_row(c_base, split, bt, m + 1u, n1, c11);
    store_row(c_base, split, bt, m + 2u, n1, c21);
    store_row(c_base, split, bt, m + 3u, n1, c31);
  }
  if (TM == 8u) {
    store_row(c_base, split, bt, m + 4u, n, c40);
    store_row(c_base, split, bt, m + 5u, n, c50);
    store_row(c_base, split, bt, m + 6u, n, c60);
    store_row(c_base, split, bt, m + 7u, n, c70);
    if (TN == 8u) {
      store_row(c_base, split, bt, m + 4u, n1, c41);
      store_row(c_base, split, bt, m + 5u, n1, c51);
      store_row(c_base, split, bt, m + 6u, n1, c61);
      store_row(c_base, split, bt, m + 7u, n1, c71);
    }
  }
}
