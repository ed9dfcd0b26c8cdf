// lm_head and the cross-entropy, a chunk of rows at a time, so that the [N, V] float32 logits never exist whole:
// with Gemma's 262,144-token vocabulary they are 1 MiB per token (1 GiB at 1,024 tokens, past what many GPUs bind
// at once). Each chunk of R rows computes its logits [R, V] into one shared buffer, then its log-probs and
// log-sum-exp; the backward recomputes a chunk's logits, turns them into dlogits in place and adds dlogits W to
// dh for those rows (TRL's chunked NLL does the same, for the same reason). A row's numbers do not depend on the
// chunking: every op computes a row from that row alone.
//
// Shapes: N rows, C hidden, V vocab, R = rows per chunk (a multiple of ROW_ALIGN, or N when N <= R).
import { type Command, crossEntropyBackward, crossEntropyForward, type Gpu, softcap, type Tensor } from '@webtune/kernels';
import { linearBackward, linearForward } from './linear.ts';
import type { ActivationPool } from './pool.ts';

/** Chunks start on rows that keep every [N] and [N, C] view on WebGPU's 256-byte binding alignment. */
export const ROW_ALIGN = 64;

/** Logits per chunk, at most (unless one aligned chunk of rows is larger): 64 MiB. */
export const LOGITS_CHUNK_BYTES = 64 * 1024 * 1024;

/** Rows per chunk for a vocabulary of V: as many aligned rows as fit LOGITS_CHUNK_BYTES, at least ROW_ALIGN. */
export function logitsChunkRows(V: number): number {
  return Math.max(ROW_ALIGN, Math.floor(LOGITS_CHUNK_BYTES / (4 * V) / ROW_ALIGN) * ROW_ALIGN);
}

export interface Head {
  /** [min(N, R), V]: the logits of the last chunk run; all N rows when N <= R. */
  logits: Tensor;
  forward: Command[];
  /** Given lossWeights (dLoss/dNLL per row), write dh [N, C] (overwritten). */
  backward: Command[];
}

export interface HeadTensors {
  /** [N, C] the final norm's output. */
  h: Tensor;
  /** [V, C] lm_head (the embedding when tied). */
  W: Tensor;
  targets: Tensor; // [N] u32
  logprobs: Tensor; // [N]
  lse: Tensor; // [N]
  lossWeights: Tensor; // [N]
  /** [N, C] dLoss/dh; only with `train`. */
  dh?: Tensor;
  /** Gemma's final_logit_softcapping: logits = cap * tanh(logits / cap) before the cross-entropy; null for none. */
  softcap: number | null;
}

export async function buildHead(gpu: Gpu, pool: ActivationPool, t: HeadTensors, rowsPerChunk: number): Promise<Head> {
  const [N, C] = t.h.shape;
  const V = t.W.shape[0];
  if (!Number.isInteger(rowsPerChunk) || rowsPerChunk < 1 || (rowsPerChunk < N && rowsPerChunk % ROW_ALIGN !== 0))
    throw new Error(`internal: ${rowsPerChunk} rows per logits chunk; a positive multiple of ${ROW_ALIGN} unless one chunk holds all ${N}`);
  const R = Math.min(N, rowsPerChunk);
  const logits = pool.get('logits', [R, V]);
  const forward: Command[] = [];
  const backward: Command[] = [];
  const scratch = (r: number) => pool.get(`lora.u.${r}`, [R, r]);
  for (let r0 = 0; r0 < N; r0 += R) {
    const n = Math.min(R, N - r0);
    const rows = (x: Tensor) => x.view([n], r0);
    const h = t.h.view([n, C], r0 * C);
    const lg = logits.view([n, V]);
    const ce = { logits: lg, targets: rows(t.targets), lse: rows(t.lse) };
    const project = await linearForward(gpu, `lm_head rows ${r0}..${r0 + n}`, lg, h, t.W, undefined, []);
    if (t.softcap !== null) project.push(...(await softcap(gpu, lg, t.softcap)));
    forward.push(...project, ...(await crossEntropyForward(gpu, { ...ce, logprobs: rows(t.logprobs) })));
    if (!t.dh) continue;
    // One chunk: its logits are still in place from the forward. Several: recompute this chunk's.
    if (R < N) backward.push(...project);
    backward.push(...(await crossEntropyBackward(gpu, { ...ce, weights: rows(t.lossWeights) }, { softcap: t.softcap ?? undefined })));
    const dh = t.dh.view([n, C], r0 * C);
    backward.push(...(await linearBackward(gpu, `lm_head rows ${r0}..${r0 + n}`, dh, lg, h, t.W, [], scratch, false)));
  }
  return { logits, forward, backward };
}
