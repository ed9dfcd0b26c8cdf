// matmul: C = alpha * op(A) @ op(B) + beta * C, batched, in NN / NT / TN / TT layouts.
import { requireF32 } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import { checkGeometry, geometryFromShapes, type MatmulGeometry, type OperandLayout } from './geometry.ts';
import source from './matmul.wgsl?raw';
import reduceSource from './matmul_reduce.wgsl?raw';

export { geometryFromShapes, type MatmulGeometry, type OperandLayout } from './geometry.ts';

const KERNEL = { name: 'matmul', source };
/** How B is stored (matmul.wgsl's B_PACK): f32 words, or bf16 / f16 halves two to a word. */
const B_PACK: Record<string, number> = { f32: 0, bf16: 1, f16: 2 };
const REDUCE = { name: 'matmul_reduce', source: reduceSource };

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** 0 (default) overwrites C without reading it; 1 accumulates into C. */
  beta?: number;
  /** Explicit walk for strided views (attention heads); replaces the shape-derived one. */
  geometry?: MatmulGeometry;
  /** Force a K split count (tests); by default chosen from the shape. */
  splits?: number;
  label?: string;
}

export interface MatmulConfig {
  WG_X: number;
  WG_Y: number;
  /** Rows and columns of C per thread (4 or 8 each). */
  TM: number;
  TN: number;
  BK: number;
  splits: number;
  kChunk: number;
  /** No staging through workgroup memory (short K, e.g. LoRA's rank as the inner dimension). */
  direct: boolean;
}

/** At or below this K one tile step would be all the work: skip staging and its barriers. */
export const DIRECT_MAX_K = 16;

/** WebGPU's default maxComputeWorkgroupStorageSize: every adapter gives at least this much. */
export const WORKGROUP_BYTES = 16384;

/** Smallest power of two >= x, within [lo, hi]. */
function pow2(x: number, lo: number, hi: number): number {
  let v = lo;
  while (v < x && v < hi) v *= 2;
  return v;
}

/**
 * Tile shape and K split for a problem, from its shape alone (one configuration for every device).
 *
 * Large outputs: 64x64 tiles of 8x8 threads, each thread an 8x8 block of C, BK = 32. Why this is
 * sound on real GPUs, not only on SwiftShader: 64 accumulators plus 16 operands is ~100 registers
 * a thread, the classic SGEMM block (CUTLASS's 8x8): within the 255 of NVIDIA and the 256 VGPRs of
 * AMD, and Intel compiles it SIMD8 without spilling; 64 threads are two warps or one wave64 or two
 * Apple SIMD-groups, and with one block per thread each k step is 16 shared-memory reads (two vec4
 * broadcasts of A, eight conflict-free scalars of B) for 64 FMAs. Workgroup memory is BK*(BM+BN)*4
 * = 16 KiB, exactly the default maxComputeWorkgroupStorageSize, so no limit needs raising; each
 * barrier pair covers 32*64 = 2048 FMAs a thread (4x4 blocks with BK = 16 cover 256), which is what
 * the barrier-heavy CPU implementation (SwiftShader) needs and costs a GPU nothing. The tile count
 * is the same as with 4x4 blocks of 16x16 threads (64x64 tiles), with a quarter of the threads.
 *
 * A short side (LoRA's rank, a single row) gets 4 per thread and a thin tile, the long side widened
 * to at least 32 threads while the tile's span BM+BN stays <= 256 (so BK stays >= 16 in 16 KiB);
 * split-K when the output is too small to fill the GPU but K is long (LoRA gradients); and no
 * staging at all when K is short.
 */
export function chooseConfig(g: MatmulSize, forcedSplits?: number): MatmulConfig {
  const direct = g.K <= DIRECT_MAX_K && forcedSplits === undefined;
  const TM = g.M >= 64 ? 8 : 4;
  const TN = g.N >= 64 ? 8 : 4;
  let WG_X = pow2(Math.ceil(g.N / TN), 1, 64 / TN);
  let WG_Y = pow2(Math.ceil(g.M / TM), 1, 64 / TM);
  while (WG_X * WG_Y < 32) {
    const wideY = g.M / (TM * WG_Y) >= g.N / (TN * WG_X);
    if (wideY && 2 * TM * WG_Y + TN * WG_X <= 256) WG_Y *= 2;
    else if (!wideY && TM * WG_Y + 2 * TN * WG_X <= 256) WG_X *= 2;
    else break;
  }
  const BM = TM * WG_Y;
  const BN = TN * WG_X;
  // The largest multiple of 4, at most 32, whose As + Bs fit the default workgroup storage.
  const BK = Math.min(32, 4 * Math.floor(WORKGROUP_BYTES / (16 * (BM + BN))));
  const tiles = Math.ceil(g.M / BM) * Math.ceil(g.N / BN) * g.batch;
  let splits = forcedSplits ?? 1;
  if (forcedSplits === undefined && !direct && tiles < 64 && g.K >= 1024) {
    splits = Math.min(Math.ceil(g.K / 512), Math.ceil(128 / tiles));
  }
  const kChunk = Math.ceil(g.K / splits / BK) * BK;
  splits = Math.ceil(g.K / kChunk);
  return { WG_X, WG_Y, TM, TN, BK, splits, kChunk, direct };
}

/** What a matmul's configuration depends on: C is [batch, M, N], the sum runs over K. */
export type MatmulSize = Pick<MatmulGeometry, 'M' | 'N' | 'K' | 'batch'>;

/**
 * Float32 elements of split-K partials a matmul of this size writes (one [M, N] block per split and batch; 0 when K is
 * not split): what it asks of the device's shared partials buffer (Gpu.scratch), and what the memory estimate counts.
 */
export function splitKPartials(g: MatmulSize, cfg: MatmulConfig = chooseConfig(g)): number {
  return cfg.splits > 1 ? cfg.splits * g.batch * g.M * g.N : 0;
}

/** Can this operand use vec4 loads: every 4-run of its stored rows 16-byte aligned and whole. */
function vec4able(o: OperandLayout, ld: number, storedCols: number): boolean {
  return [o.offset, o.stride0, o.stride1, ld, storedCols].every((v) => v % 4 === 0);
}

function writeOperand(u: UniformWriter, o: OperandLayout): void {
  u.u32(o.offset).u32(o.stride0).u32(o.stride1).u32(o.div1);
}

export async function matmul(gpu: Gpu, C: Tensor, A: Tensor, B: Tensor, options: MatmulOptions = {}): Promise<Dispatch[]> {
  const op = options.label ?? 'matmul';
  const transA = options.geometry?.transA ?? options.transA ?? false;
  const transB = options.geometry?.transB ?? options.transB ?? false;
  const g = options.geometry ?? geometryFromShapes(op, C, A, B, transA, transB);
  checkGeometry(op, g, C, A, B);
  requireF32(op, [
    ['A', A],
    ['C', C],
  ]);
  if (B.dtype !== 'f32' && B.dtype !== 'bf16' && B.dtype !== 'f16') throw new ShapeError(op, `B must be f32, bf16 or f16, got ${B.dtype}`);
  const alpha = options.alpha ?? 1;
  const beta = options.beta ?? 0;
  const cfg = chooseConfig(g, options.splits);
  const split = cfg.splits > 1;
  const consts = {
    WG_X: cfg.WG_X,
    WG_Y: cfg.WG_Y,
    TM: cfg.TM,
    TN: cfg.TN,
    BK: cfg.BK,
    TRANS_A: transA,
    TRANS_B: transB,
    VEC_A: vec4able(g.a, g.lda, transA ? g.M : g.K),
    VEC_B: vec4able(g.b, g.ldb, transB ? g.K : g.N),
    SPLIT_K: split,
    DIRECT: cfg.direct,
    B_PACK: B_PACK[B.dtype],
  };
  const tilesN = Math.ceil(g.N / (cfg.TN * cfg.WG_X));
  const tilesM = Math.ceil(g.M / (cfg.TM * cfg.WG_Y));
  const groups = tilesN * tilesM * g.batch * cfg.splits;
  const u = new UniformWriter().u32(g.M).u32(g.N).u32(g.K).u32(g.batch).u32(g.batch1).u32(g.lda).u32(g.ldb).u32(g.ldc);
  writeOperand(u, g.a);
  writeOperand(u, g.b);
  writeOperand(u, g.c);
  u.f32(alpha).f32(beta).u32(cfg.kChunk).u32(groups).u32(tilesN).u32(tilesM).u32(0).u32(0);

  // One partials buffer for every split-K matmul of the device: a step records hundreds (each LoRA gradient), and each
  // its own buffer was about 39 MB of a SmolLM2-135M DPO step at 1,024 tokens.
  const partial = split ? gpu.scratch('matmul split-K partials', splitKPartials(g, cfg)) : C;
  // A and B twice: as scalars and as vec4s (VEC_A / VEC_B pick which the kernel reads).
  const main = await gpu.dispatch(op, { kernel: KERNEL, consts, params: u.bytes(), bind: [A, A, B, B, partial], groups });
  if (!split) return [main];

  const r = new UniformWriter().u32(g.M).u32(g.N).u32(cfg.splits).u32(g.batch).u32(g.batch1).u32(g.ldc);
  const reduceGroups = Math.ceil((g.batch * g.M * g.N) / 256);
  r.u32(reduceGroups).u32(0);
  writeOperand(r, g.c);
  r.f32(alpha).f32(beta).u32(0).u32(0);
  const reduce = await gpu.dispatch(`${op} split-K reduce`, {
    kernel: REDUCE,
    params: r.bytes(),
    bind: [partial, C],
    groups: reduceGroups,
  });
  return [main, reduce];
}
