// matmul: C = alpha * op(A) @ op(B) + beta * C, batched, in NN / NT / TN / TT layouts.
import { requireF32 } from '../../runtime/checks.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import { checkGeometry, geometryFromShapes, type MatmulGeometry, type OperandLayout } from './geometry.ts';
import source from './matmul.wgsl?raw';
import reduceSource from './matmul_reduce.wgsl?raw';

export { geometryFromShapes, type MatmulGeometry, type OperandLayout } from './geometry.ts';

const KERNEL = { name: 'matmul', source };
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
  BK: number;
  splits: number;
  kChunk: number;
  /** No staging through workgroup memory (short K, e.g. LoRA's rank as the inner dimension). */
  direct: boolean;
}

/** At or below this K one tile step would be all the work: skip staging and its barriers. */
export const DIRECT_MAX_K = 16;

/** Smallest power of two >= x, within [lo, hi]. */
function pow2(x: number, lo: number, hi: number): number {
  let v = lo;
  while (v < x && v < hi) v *= 2;
  return v;
}

/**
 * Tile shape and K split for a problem. 64x64 tiles of 16x16 threads for large outputs; a thin
 * tile along a short side (LoRA's rank, a single row) so threads are not spent on padding; and
 * split-K when the output is too small to fill the GPU but K is long (LoRA gradients); and no
 * staging at all when K is short.
 */
export function chooseConfig(g: MatmulGeometry, forcedSplits?: number): MatmulConfig {
  const direct = g.K <= DIRECT_MAX_K && forcedSplits === undefined;
  let WG_X = pow2(Math.ceil(g.N / 4), 1, 16);
  let WG_Y = pow2(Math.ceil(g.M / 4), 1, 16);
  // Keep at least 64 threads: widen the long side when the short one is thin.
  while (WG_X * WG_Y < 64 && (WG_X < 64 || WG_Y < 64)) {
    if (g.M / (4 * WG_Y) >= g.N / (4 * WG_X) && WG_Y < 64) WG_Y *= 2;
    else if (WG_X < 64) WG_X *= 2;
    else WG_Y *= 2;
  }
  const BK = 16;
  const tiles = Math.ceil(g.M / (4 * WG_Y)) * Math.ceil(g.N / (4 * WG_X)) * g.batch;
  let splits = forcedSplits ?? 1;
  if (forcedSplits === undefined && !direct && tiles < 64 && g.K >= 1024) {
    splits = Math.min(Math.ceil(g.K / 512), Math.ceil(128 / tiles));
  }
  const kChunk = Math.ceil(g.K / splits / BK) * BK;
  splits = Math.ceil(g.K / kChunk);
  return { WG_X, WG_Y, BK, splits, kChunk, direct };
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
    ['B', B],
    ['C', C],
  ]);
  const alpha = options.alpha ?? 1;
  const beta = options.beta ?? 0;
  const cfg = chooseConfig(g, options.splits);
  const split = cfg.splits > 1;
  const consts = {
    WG_X: cfg.WG_X,
    WG_Y: cfg.WG_Y,
    BK: cfg.BK,
    TRANS_A: transA,
    TRANS_B: transB,
    VEC_A: vec4able(g.a, g.lda, transA ? g.M : g.K),
    VEC_B: vec4able(g.b, g.ldb, transB ? g.K : g.N),
    SPLIT_K: split,
    DIRECT: cfg.direct,
  };
  const tilesN = Math.ceil(g.N / (4 * cfg.WG_X));
  const tilesM = Math.ceil(g.M / (4 * cfg.WG_Y));
  const groups = tilesN * tilesM * g.batch * cfg.splits;
  const u = new UniformWriter().u32(g.M).u32(g.N).u32(g.K).u32(g.batch).u32(g.batch1).u32(g.lda).u32(g.ldb).u32(g.ldc);
  writeOperand(u, g.a);
  writeOperand(u, g.b);
  writeOperand(u, g.c);
  u.f32(alpha).f32(beta).u32(cfg.kChunk).u32(groups).u32(tilesN).u32(tilesM).u32(0).u32(0);

  const partial = split ? gpu.tensor([cfg.splits * g.batch * g.M * g.N], `${op} split-K partials`) : C;
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
