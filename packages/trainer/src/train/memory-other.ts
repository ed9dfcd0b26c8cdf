// The GPU bytes a run holds besides weights, activations, logits and the adapter: what the runtime's ledger files as
// 'other' (kernels/src/runtime/ledger.ts). At the Qwen2.5-0.5B target case (one DPO step, 2 pairs x 256 tokens) the
// ledger measured 37.5 MB: the staging buffer the adapter's parameters are read back through as the run ends (35.2 MB,
// at the run's peak: every activation and the AdamW state are still live), the split-K partials of the LM head's
// gradient (2.3 MB), and about 10 KB more. Counted here from the facts the runtime sizes them by:
// - readback: Gpu.read stages a tensor in a buffer of its size. The run reads the adapter's parameters as it ends
//   (trainer.ts `stopped`), and each checkpoint reads the parameters and both AdamW moments at once (saveCheckpoint).
// - split-K partials: one buffer per device (Gpu.scratch), asked for splitKPartials(size) by every matmul that splits
//   K (matmul.ts). It grows to at least G = SCRATCH_GROWTH times its last size, and commands recorded before keep the
//   buffer they bound, so the buffers made while the requests rose to the largest, P, sum to less than G² / (G - 1) x P
//   (the last is under G x P, each one before at most 1 / G of the next): counted as that bound.
// - uniforms: each dispatch of a recorded step has its own Params buffer (Gpu.dispatch), at most UNIFORM_MAX_BYTES,
//   held while the step's bind groups live (the ledger stops counting one when its JS object is collected, which at
//   real shapes happens soon; on the small test fixture it does not, and uniforms are most of 'other' there). The run
//   keeps its training step and, with forward-only passes, one forward-only step (and KTO one more, its KL rows'),
//   whose dispatches are counted here as decoder.ts and the blocks record them (the forward-only step's LoRA products
//   included: a validation pass applies the adapter; the KL rows' forward draws its dropout too). Left out: the loss's and the update's handful of dispatches and their small tensors (a few KB).
import { attentionGeometry, type MatmulSize, SCRATCH_GROWTH, splitKPartials, UNIFORM_MAX_BYTES } from '@webtune/kernels';
import type { ModelConfig } from '../model/config.ts';
import { logitsChunkRows } from '../model/head.ts';
import { LORA_TARGETS, targetShape } from '../model/lora-config.ts';

/** The recorded steps of a run, as the memory estimate knows them. */
export interface OtherRun {
  /** Sequences in a micro-batch (a preference pair is two). */
  rows: number;
  /** Their padded length. */
  length: number;
  lora: { r: number; targetModules: readonly string[]; dropout?: number };
  /** Gradient checkpointing: the backward records each layer's forward again. */
  recompute: boolean;
  /** The run also records a forward-only step (reference log-probs, validation). */
  forwardOnly: boolean;
  /** And KTO's KL rows' forward-only step, which draws the trained adapter's LoRA dropout (kto.ts). */
  klRows?: boolean;
  /** Float32 values of the adapter (its parameters; as many in its gradient and each AdamW moment). */
  adapterParams: number;
  /** The run saves checkpoints: each reads the parameters and both AdamW moments back at once. */
  checkpoints: boolean;
}

export interface OtherBytes {
  readback: number;
  partials: number;
  uniforms: number;
}

/** Matmuls of a size, recorded `count` times: a step's share of one kind. */
interface Matmuls {
  size: MatmulSize;
  count: number;
}

/** Dispatches and matmuls one recorded step makes (each dispatch has its own uniform buffer). */
interface Recorded {
  matmuls: Matmuls[];
  /** Dispatches of every kernel but matmul. */
  others: number;
}

export function otherBytes(c: ModelConfig, run: OtherRun): OtherBytes {
  const train = recordedStep(c, run, 'train');
  const steps = [train, ...(run.forwardOnly ? [recordedStep(c, run, 'forward')] : []), ...(run.klRows ? [recordedStep(c, run, 'kl')] : [])];
  // A matmul that splits K records a second dispatch, the reduce.
  const dispatches = steps.reduce(
    (n, s) => n + s.others + s.matmuls.reduce((m, { size, count }) => m + count * (splitKPartials(size) > 0 ? 2 : 1), 0),
    0,
  );
  // The forward-only step's matmuls are the training step's forward: the training step has every size.
  const largest = Math.max(0, ...train.matmuls.map(({ size }) => splitKPartials(size)));
  const G = SCRATCH_GROWTH;
  return {
    readback: (run.checkpoints ? 3 : 1) * run.adapterParams * 4,
    partials: Math.ceil(((G * G) / (G - 1)) * largest) * 4,
    uniforms: dispatches * UNIFORM_MAX_BYTES,
  };
}

/** What one step records: the training step (forward, recomputation, backward), a forward-only one, or KTO's KL rows'. */
function recordedStep(c: ModelConfig, run: OtherRun, kind: 'train' | 'forward' | 'kl'): Recorded {
  const train = kind === 'train';
  const N = run.rows * run.length;
  const { r } = run.lora;
  const recompute = train && run.recompute;
  const matmuls: Matmuls[] = [];
  const mm = (M: number, Nc: number, K: number, count: number, batch = 1) => {
    if (count > 0) matmuls.push({ size: { M, N: Nc, K, batch }, count: count * c.numLayers });
  };
  let dropout = 0; // dispatches per layer
  for (const t of LORA_TARGETS) {
    const { inF, outF } = targetShape(c, t);
    const lora = run.lora.targetModules.includes(t) ? 1 : 0;
    // The recomputed MLP skips the down projection and its LoRA B term unless a sandwich norm reads its output.
    const again = recompute && !(t === 'down_proj' && !c.sandwichNorms) ? 1 : 0;
    mm(N, outF, inF, 1 + again); // x Wᵀ
    mm(N, r, inF, lora * (1 + (recompute ? 1 : 0))); // z = x Aᵀ
    mm(N, outF, r, lora * (1 + again)); // z Bᵀ
    const dropped = lora && (run.lora.dropout ?? 0) > 0;
    if (kind === 'kl' && dropped) dropout += 1; // the KL rows' forward draws the dropout (no backward)
    if (!train) continue;
    mm(N, inF, outF, 1); // dx = dy W
    mm(N, r, outF, lora); // u = dy B
    mm(outF, r, N, lora); // dB = dyᵀ z
    mm(r, inF, N, lora); // dA = uᵀ x
    mm(N, inF, r, lora); // dx += u A
    // Dropout on the adapter's input: one dispatch each way, made once per projection (recomputation replays it), and
    // the dropped gradient added to dx.
    if (dropped) dropout += 3;
  }
  const heads = attentionGeometry({ B: run.rows, Tq: run.length, Tk: run.length, nh: c.numHeads, nkv: c.numKvHeads, hd: c.headDim });
  const passes = 1 + (recompute ? 1 : 0);
  mm(heads.scores.M, heads.scores.N, heads.scores.K, passes + (train ? 1 : 0), heads.scores.batch); // S = Q Kᵀ; dP
  mm(heads.output.M, heads.output.N, heads.output.K, passes + (train ? 1 : 0), heads.output.batch); // O = P V; dQ
  const kv = heads.kvGrad(0);
  if (train) mm(kv.M, kv.N, kv.K, 2 * (c.numHeads / c.numKvHeads), kv.batch); // dK, dV: one per member of a group
  const ropePerPass = c.layers.reduce((n, l) => n + (l.rope ? 2 : 0), 0); // q and k of every rotating layer
  const biases = (c.attentionBias.qkv ? 3 : 0) + (c.attentionBias.o ? 1 : 0);
  // Forward of a layer: input and MLP norms (and q/k norms, output norms), biases, softmax, two residual adds and the
  // gate's activation; RoPE on q and k where the layer rotates. The recomputation records it again less the last add.
  const forward = 2 + (c.qkNorm ? 2 : 0) + (c.sandwichNorms ? 2 : 0) + biases + 1 + 2 + 1;
  // Backward of a layer: softmax, the two norms (q/k and output norms too), the activation; RoPE inverted.
  const backward = 1 + 2 + (c.qkNorm ? 2 : 0) + (c.sandwichNorms ? 2 : 0) + 1;
  let others = c.numLayers * (dropout + forward + (recompute ? forward - 1 : 0) + (train ? backward : 0));
  others += ropePerPass * (passes + (train ? 1 : 0));
  // Ends: the embedding (and its scale), the final norm (and its backward); the head a chunk of rows at a time
  // (head.ts): lm_head, the softcap, the cross-entropy, and backward the cross-entropy's and dh = dlogits W. With
  // several chunks the backward replays each chunk's forward dispatches (no new ones).
  others += 1 + (c.embedScale !== 1 ? 1 : 0) + 1 + (train ? 1 : 0);
  const R = Math.min(N, logitsChunkRows(c.vocabSize));
  for (const rows of [R, N % R]) {
    const chunks = rows === R ? Math.floor(N / R) : rows > 0 ? 1 : 0;
    if (chunks === 0) continue;
    matmuls.push({ size: { M: rows, N: c.vocabSize, K: c.hiddenSize, batch: 1 }, count: chunks });
    if (train) matmuls.push({ size: { M: rows, N: c.hiddenSize, K: c.vocabSize, batch: 1 }, count: chunks });
    others += chunks * ((c.finalLogitSoftcap !== null ? 1 : 0) + 1 + (train ? 1 : 0));
  }
  return { matmuls, others };
}
