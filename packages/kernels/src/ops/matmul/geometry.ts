// How a matmul walks its operands: sizes, leading dimensions, batch strides. Derived from
// tensor shapes for the common cases, or given explicitly for strided views (attention heads).
import { requireDisjoint } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';

/** Where batch `b` of an operand starts: offset + (b / batch1)*stride0 + ((b % batch1) / div1)*stride1. */
export interface OperandLayout {
  offset: number;
  stride0: number;
  stride1: number;
  div1: number;
}

export interface MatmulGeometry {
  M: number;
  N: number;
  K: number;
  /** Total batch count, and the size of its inner factor (heads). */
  batch: number;
  batch1: number;
  transA: boolean;
  transB: boolean;
  lda: number;
  ldb: number;
  ldc: number;
  a: OperandLayout;
  b: OperandLayout;
  c: OperandLayout;
}

const dense = (stride0: number): OperandLayout => ({ offset: 0, stride0, stride1: 0, div1: 1 });

/**
 * Geometry from shapes: A [...batch, M, K] ([..., K, M] with transA), B [...batch, K, N]
 * ([..., N, K] with transB) or unbatched (shared by every batch: weights), C [...batch, M, N].
 */
export function geometryFromShapes(op: string, C: Tensor, A: Tensor, B: Tensor, transA: boolean, transB: boolean): MatmulGeometry {
  const fail = (why: string) =>
    new ShapeError(op, `${why}; got A ${shapeStr(A)}${transA ? 'ᵀ' : ''}, B ${shapeStr(B)}${transB ? 'ᵀ' : ''}, C ${shapeStr(C)}`);
  if (A.shape.length < 2 || B.shape.length < 2 || C.shape.length < 2) throw fail('operands need at least 2 dimensions');
  const [ar, ac] = A.shape.slice(-2);
  const [br, bc] = B.shape.slice(-2);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  if (K !== Kb) throw fail(`inner dimensions differ (${K} vs ${Kb})`);
  const [cm, cn] = C.shape.slice(-2);
  if (cm !== M || cn !== N) throw fail(`C must be [..., ${M}, ${N}]`);
  const batchShape = C.shape.slice(0, -2);
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const aBatch = A.shape.slice(0, -2);
  const bBatch = B.shape.slice(0, -2);
  const same = (s: readonly number[]) => s.length === batchShape.length && s.every((d, i) => d === batchShape[i]);
  if (!same(aBatch)) throw fail('A must have the batch dimensions of C');
  if (!(same(bBatch) || bBatch.every((d) => d === 1))) throw fail('B must have the batch dimensions of C, or none');
  const bShared = !same(bBatch) || batch === 1;
  return {
    M,
    N,
    K,
    batch,
    batch1: 1,
    transA,
    transB,
    lda: ac,
    ldb: bc,
    ldc: N,
    a: dense(M * K),
    b: dense(bShared ? 0 : K * N),
    c: dense(M * N),
  };
}

/** The largest element index (plus one) an operand's walk touches. */
function extent(o: OperandLayout, batch: number, batch1: number, rows: number, cols: number, ld: number): number {
  if (rows === 0 || cols === 0 || batch === 0) return 0;
  const b0 = Math.floor((batch - 1) / batch1);
  const b1 = Math.min(batch, batch1) - 1;
  return o.offset + b0 * o.stride0 + Math.floor(b1 / o.div1) * o.stride1 + (rows - 1) * ld + cols;
}

/** Check an explicit geometry against the tensors it will read and write. */
export function checkGeometry(op: string, g: MatmulGeometry, C: Tensor, A: Tensor, B: Tensor): void {
  for (const [k, v] of Object.entries({ M: g.M, N: g.N, K: g.K, batch: g.batch, batch1: g.batch1 })) {
    if (!Number.isInteger(v) || v < 1) throw new ShapeError(op, `${k} must be a positive integer, got ${v}`);
  }
  if (g.batch % g.batch1 !== 0) throw new ShapeError(op, `batch ${g.batch} is not a multiple of batch1 ${g.batch1}`);
  const [aRows, aCols] = g.transA ? [g.K, g.M] : [g.M, g.K];
  const [bRows, bCols] = g.transB ? [g.N, g.K] : [g.K, g.N];
  const checks: [string, Tensor, OperandLayout, number, number, number][] = [
    ['A', A, g.a, aRows, aCols, g.lda],
    ['B', B, g.b, bRows, bCols, g.ldb],
    ['C', C, g.c, g.M, g.N, g.ldc],
  ];
  for (const [name, t, o, rows, cols, ld] of checks) {
    if (ld < cols) throw new ShapeError(op, `${name}'s leading dimension ${ld} is less than its ${cols} columns`);
    if (o.div1 < 1) throw new ShapeError(op, `${name}'s div1 must be >= 1`);
    const end = extent(o, g.batch, g.batch1, rows, cols, ld);
    if (end > t.size) throw new ShapeError(op, `${name} ${shapeStr(t)} has ${t.size} elements but the walk reaches element ${end - 1}`);
  }
  // A and B are bound read-only, C writable: even disjoint views of one buffer are rejected.
  requireDisjoint(
    op,
    [['C', C]],
    [
      ['A', A],
      ['B', B],
    ],
  );
}
