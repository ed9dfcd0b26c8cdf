// embedding: out = table[ids] (token embeddings), and its deterministic scatter-add backward.
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './embedding.wgsl?raw';
import backwardSource from './embedding_backward.wgsl?raw';
import zeroSource from './embedding_zero.wgsl?raw';

const FORWARD = { name: 'embedding', source };
const BACKWARD = { name: 'embedding_backward', source: backwardSource };
const ZERO = { name: 'embedding_zero', source: zeroSource };
/** Threads per workgroup of embedding.wgsl and embedding_zero.wgsl (their WG). */
const WG = 256;
/** Threads (columns) per workgroup of embedding_backward.wgsl (its WG). */
const BACKWARD_WG = 64;

export interface EmbeddingBackwardOptions {
  /** Add into dtable instead of overwriting it (tied embeddings, gradient accumulation). */
  accumulate?: boolean;
  label?: string;
}

/** Check table [V, C], ids [N] u32 and rows [N, C] (out or dout), the others f32. Returns [N, C, V]. */
function checkShapes(op: string, table: [string, Tensor], ids: Tensor, rows: [string, Tensor]): [number, number, number] {
  const [tableName, t] = table;
  const [rowsName, r] = rows;
  const [V, C] = t.shape;
  if (t.shape.length !== 2 || V < 1 || C < 1)
    throw new ShapeError(op, `${tableName} must be [V, C] with V, C >= 1; got ${tableName} ${shapeStr(t)}`);
  const N = ids.shape[0];
  if (ids.shape.length !== 1 || N < 1) throw new ShapeError(op, `ids must be [N] with N >= 1; got ids ${shapeStr(ids)}`);
  if (r.shape.length !== 2 || r.shape[0] !== N || r.shape[1] !== C) {
    throw new ShapeError(
      op,
      `${rowsName} must be [${N}, ${C}] for ids ${shapeStr(ids)} and ${tableName} ${shapeStr(t)}; got ${rowsName} ${shapeStr(r)}`,
    );
  }
  if (ids.dtype !== 'u32') throw new ShapeError(op, `ids must be u32, got ${ids.dtype}`);
  for (const [name, x] of [table, rows]) {
    if (x.dtype !== 'f32') throw new ShapeError(op, `${name} must be f32, got ${x.dtype}`);
  }
  return [N, C, V];
}

/** WebGPU forbids one buffer bound both read-only and writable in a dispatch. */
function checkDisjoint(op: string, [outName, out]: [string, Tensor], inputs: Record<string, Tensor>): void {
  for (const [name, input] of Object.entries(inputs)) {
    if (input.buffer === out.buffer) throw new ShapeError(op, `${outName} must not share a buffer with ${name}`);
  }
}

/** out = table[ids], rows of zeros for ids >= V. table: [V, C]; ids: [N] u32; out: [N, C]. */
export async function embeddingForward(
  gpu: Gpu,
  t: { out: Tensor; table: Tensor; ids: Tensor },
  options: { label?: string } = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'embedding';
  const [N, C, V] = checkShapes(op, ['table', t.table], t.ids, ['out', t.out]);
  checkDisjoint(op, ['out', t.out], { table: t.table, ids: t.ids });
  const u = new UniformWriter()
    .u32(N)
    .u32(C)
    .u32(V)
    .u32(N * C);
  const pipeline = await gpu.pipeline(FORWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), t.table, t.ids, t.out]);
  return [{ label: op, pipeline, bindGroup, workgroups: gpu.grid(Math.ceil((N * C) / WG)) }];
}

/**
 * dtable[ids[n]] += dout[n] for every n in order (repeated ids sum; ids >= V are skipped), after
 * zeroing dtable unless `accumulate`. dtable: [V, C]; dout: [N, C]; ids: [N] u32.
 */
export async function embeddingBackward(
  gpu: Gpu,
  t: { dtable: Tensor; dout: Tensor; ids: Tensor },
  options: EmbeddingBackwardOptions = {},
): Promise<Dispatch[]> {
  const op = options.label ?? 'embedding backward';
  const [N, C, V] = checkShapes(op, ['dtable', t.dtable], t.ids, ['dout', t.dout]);
  checkDisjoint(op, ['dtable', t.dtable], { dout: t.dout, ids: t.ids });
  const dispatches: Dispatch[] = [];
  if (!options.accumulate) {
    const zero = await gpu.pipeline(ZERO);
    const u = new UniformWriter()
      .u32(V * C)
      .u32(0)
      .u32(0)
      .u32(0);
    dispatches.push({
      label: `${op} zero`,
      pipeline: zero,
      bindGroup: gpu.bind(zero, `${op} zero`, [gpu.uniform(u.bytes(), `${op} zero params`), t.dtable]),
      workgroups: gpu.grid(Math.ceil((V * C) / WG)),
    });
  }
  const u = new UniformWriter().u32(N).u32(C).u32(V).u32(0);
  const pipeline = await gpu.pipeline(BACKWARD);
  const bindGroup = gpu.bind(pipeline, op, [gpu.uniform(u.bytes(), `${op} params`), t.dout, t.ids, t.dtable]);
  dispatches.push({ label: op, pipeline, bindGroup, workgroups: gpu.grid(Math.ceil(C / BACKWARD_WG)) });
  return dispatches;
}
