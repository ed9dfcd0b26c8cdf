// embedding: out = table[ids] (token embeddings), and its deterministic scatter-add backward.
import { requireDisjoint, requireShapes } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { type DType, shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './embedding.wgsl?raw';
import backwardSource from './embedding_backward.wgsl?raw';
import zeroSource from './embedding_zero.wgsl?raw';

const FORWARD = { name: 'embedding', source };
const BACKWARD = { name: 'embedding_backward', source: backwardSource };
const ZERO = { name: 'embedding_zero', source: zeroSource };
/** Threads per workgroup of embedding.wgsl and embedding_zero.wgsl (their WG). */
const WG = 256;

export interface EmbeddingBackwardOptions {
  /** Add into dtable instead of overwriting it (tied embeddings, gradient accumulation). */
  accumulate?: boolean;
  label?: string;
}

/** How the forward's table is stored (embedding.wgsl's TABLE_PACK): f32, or bf16 / f16 halves two to a word. */
const TABLE_PACK: Record<string, number> = { f32: 0, bf16: 1, f16: 2 };

/**
 * Check table [V, C], ids [N] u32 and rows [N, C] (out or dout), the others f32 (the table may be
 * `tableDtype`). Returns [N, C, V].
 */
function checkShapes(
  op: string,
  table: [string, Tensor],
  ids: Tensor,
  rows: [string, Tensor],
  tableDtype: DType = 'f32',
): [number, number, number] {
  const [tableName, t] = table;
  const [V, C] = t.shape;
  if (t.shape.length !== 2 || V < 1 || C < 1)
    throw new ShapeError(op, `${tableName} must be [V, C] with V, C >= 1; got ${tableName} ${shapeStr(t)}`);
  const N = ids.shape[0];
  if (ids.shape.length !== 1 || N < 1) throw new ShapeError(op, `ids must be [N] with N >= 1; got ids ${shapeStr(ids)}`);
  const context = `ids ${shapeStr(ids)} and ${tableName} ${shapeStr(t)}`;
  requireShapes(
    op,
    [
      [rows[0], rows[1], [N, C]],
      ['ids', ids, [N], 'u32'],
      [tableName, t, [V, C], tableDtype],
    ],
    context,
  );
  return [N, C, V];
}

/** out = table[ids], rows of zeros for ids >= V. table: [V, C] f32, bf16 or f16 (widened exactly); ids: [N] u32; out: [N, C]. */
export async function embeddingForward(
  gpu: Gpu,
  t: { out: Tensor; table: Tensor; ids: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'embedding';
  if (!(t.table.dtype in TABLE_PACK)) throw new ShapeError(op, `table must be f32, bf16 or f16, got ${t.table.dtype}`);
  const [N, C, V] = checkShapes(op, ['table', t.table], t.ids, ['out', t.out], t.table.dtype);
  requireDisjoint(
    op,
    [['out', t.out]],
    [
      ['table', t.table],
      ['ids', t.ids],
    ],
  );
  const params = new UniformWriter()
    .u32(N)
    .u32(C)
    .u32(V)
    .u32(N * C)
    .bytes();
  const consts = { TABLE_PACK: TABLE_PACK[t.table.dtype] };
  return [await gpu.dispatch(op, { kernel: FORWARD, consts, params, bind: [t.table, t.ids, t.out], groups: Math.ceil((N * C) / WG) })];
}

/**
 * dtable[ids[n]] += dout[n] for every n in order (repeated ids sum; ids >= V are skipped), after
 * zeroing dtable unless `accumulate`. dtable: [V, C]; dout: [N, C]; ids: [N] u32. The scatter
 * costs O(N * C + N^2 / 256) whatever V; the zeroing writes all of V * C (a full vocabulary's
 * gradient, as large as the table: accumulate into a zeroed buffer to skip it).
 */
export async function embeddingBackward(
  gpu: Gpu,
  t: { dtable: Tensor; dout: Tensor; ids: Tensor },
  options: EmbeddingBackwardOptions = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'embedding backward';
  const [N, C, V] = checkShapes(op, ['dtable', t.dtable], t.ids, ['dout', t.dout]);
  requireDisjoint(
    op,
    [['dtable', t.dtable]],
    [
      ['dout', t.dout],
      ['ids', t.ids],
    ],
  );
  const dispatches: Dispatch[] = [];
  if (!options.accumulate) {
    const params = new UniformWriter()
      .u32(V * C)
      .u32(0)
      .u32(0)
      .u32(0)
      .bytes();
    dispatches.push(await gpu.dispatch(`${op} zero`, { kernel: ZERO, params, bind: [t.dtable], groups: Math.ceil((V * C) / WG) }));
  }
  // One workgroup per token; the first token of each row sums the row's tokens in order.
  const params = new UniformWriter().u32(N).u32(C).u32(V).u32(0).bytes();
  dispatches.push(await gpu.dispatch(op, { kernel: BACKWARD, params, bind: [t.dout, t.ids, t.dtable], groups: N }));
  return dispatches;
}
