// GB/s of the memory-bound kernels: row softmax (attention-shaped, full and causal), the fused
// cross-entropy forward and in-place backward (vocab-sized rows), and the DPO loss. Bytes counted
// are the bytes each run must move at least once (inputs read + outputs written). tfjs's softmax
// and logSoftmax run beside ours on the same device as the peer, on the same work (where tfjs runs: see peers.ts).
import { crossEntropyBackward, crossEntropyForward, IGNORE_INDEX } from '../src/ops/cross_entropy/cross_entropy.ts';
import { dpoLoss } from '../src/ops/dpo_loss/dpo_loss.ts';
import { softmaxForward } from '../src/ops/softmax/softmax.ts';
import type { Gpu } from '../src/runtime/gpu.ts';
import { randint, uniform } from '../src/testing/random.ts';
import type { Skipped, TfjsPeer } from './peers.ts';
import type { BenchRow } from './rows.ts';
import { type Timing, timeGpu } from './timing.ts';

const noFlush = () => {};

function row(suite: string, name: string, impl: string, { ms, reps }: Timing, bytes: number): BenchRow {
  return { suite, case: name, impl, ms, reps, metric: 'GB/s', value: bytes / ms / 1e6 };
}

export async function benchBandwidth(gpu: Gpu, quick: boolean, budgetMs: number, tfjs: TfjsPeer | Skipped): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  /** tfjs's row on the same work as `ours`, or its skipped row. */
  const peerRow = async (ours: BenchRow, data: Float32Array, shape: [number, number], op: 'softmax' | 'logSoftmax', bytes: number) => {
    if ('skipped' in tfjs) return { ...ours, impl: tfjs.name, ms: Number.NaN, reps: 0, value: Number.NaN, skipped: tfjs.skipped };
    const { tf } = tfjs;
    const x = tf.tensor2d(data, shape);
    try {
      const peer = row(
        ours.suite,
        ours.case,
        tfjs.name,
        await timeGpu(gpu.device, () => tf.dispose(tf[op](x)), tfjs.flush, budgetMs),
        bytes,
      );
      ours.vsTfjs = peer.ms / ours.ms;
      return peer;
    } finally {
      x.dispose();
    }
  };

  // Attention-shaped softmax: B*nh*T rows of T keys. Against tfjs's softmax (every column), ours
  // without the mask; the causal one apart, credited with the half rows it reads.
  const T = quick ? 128 : 256;
  const R = 8 * 4 * T;
  const x = gpu.upload(uniform(R * T, 1, 4), [R, T], 'scores');
  const p = gpu.tensor([R, T], 'probs');
  const full = await softmaxForward(gpu, p, x);
  const causal = await softmaxForward(gpu, p, x, { causal: { queries: T, offset: 0 } });
  const bytes = 2 * R * T * 4; // read x, write y
  const t1 = await timeGpu(gpu.device, () => gpu.run(...full), noFlush, budgetMs);
  const ours = row('softmax', `[${R}, ${T}]`, 'webtune', t1, bytes);
  rows.push(ours, await peerRow(ours, await gpu.read(x), [R, T], 'softmax', bytes));
  // Query i reads its i + 1 visible columns; every row is written whole (the masked zeros too).
  const causalBytes = ((R / T) * ((T * (T + 1)) / 2) + R * T) * 4;
  const t3 = await timeGpu(gpu.device, () => gpu.run(...causal), noFlush, budgetMs);
  rows.push(row('softmax', `causal [${R}, ${T}]`, 'webtune', t3, causalBytes));

  // Cross-entropy over a vocabulary: forward reads the logits once; backward reads and writes them.
  const N = quick ? 256 : 512;
  const V = quick ? 4096 : 16384;
  const logitsData = uniform(N * V, 2, 8);
  const logits = gpu.upload(logitsData, [N, V], 'logits');
  const targets = gpu.upload(
    Uint32Array.from(randint(N, 3, V), (t, i) => (i % 7 === 0 ? IGNORE_INDEX : t)),
    [N],
    'targets',
  );
  const logprobs = gpu.tensor([N], 'logprobs');
  const lse = gpu.tensor([N], 'lse');
  const weights = gpu.upload(new Float32Array(N).fill(1 / N), [N], 'weights');
  const fwd = await crossEntropyForward(gpu, { logits, targets, logprobs, lse });
  const bwd = await crossEntropyBackward(gpu, { logits, targets, lse, weights });
  const ceBytes = N * V * 4;
  const f = await timeGpu(gpu.device, () => gpu.run(...fwd), noFlush, budgetMs);
  const fr = row('cross_entropy', `forward [${N}, ${V}]`, 'webtune', f, ceBytes);
  rows.push(fr, await peerRow(fr, logitsData, [N, V], 'logSoftmax', ceBytes));
  // The backward overwrites the logits: each run first restores them from a copy on the device
  // (reads and writes N*V floats, counted), then reads and writes them in place.
  const saved = gpu.upload(logitsData, [N, V], 'saved logits');
  const b = await timeGpu(gpu.device, () => gpu.record().copy(saved, logits).run(bwd).submit(), noFlush, budgetMs);
  rows.push(row('cross_entropy', `restore copy + backward in place [${N}, ${V}]`, 'webtune', b, 4 * ceBytes));

  // DPO loss on a large micro-batch: P pairs of T tokens (log-probs, mask in; weights out).
  const P = 32;
  const Tq = quick ? 256 : 512;
  const S = 2 * P;
  const t = {
    logprobs: gpu.upload(uniform(S * Tq, 4, 2), [S, Tq], 'logprobs'),
    mask: gpu.upload(
      Float32Array.from({ length: S * Tq }, (_, i) => (i % Tq > Tq / 4 ? 1 : 0)),
      [S, Tq],
      'mask',
    ),
    refLogps: gpu.upload(uniform(S, 5, 50), [S], 'ref'),
    seqLogps: gpu.tensor([S], 'seq'),
    counts: gpu.tensor([S], 'counts'),
    losses: gpu.tensor([P], 'losses'),
    chosenRewards: gpu.tensor([P], 'cr'),
    rejectedRewards: gpu.tensor([P], 'rr'),
    weights: gpu.tensor([S, Tq], 'weights'),
  };
  const dpo = await dpoLoss(gpu, t, { beta: 0.1, lossType: 'sigmoid', labelSmoothing: 0, pairsTotal: P });
  const dpoBytes = 3 * S * Tq * 4;
  const d = await timeGpu(gpu.device, () => gpu.run(...dpo), noFlush, budgetMs);
  rows.push(row('dpo_loss', `${P} pairs x ${Tq} tokens`, 'webtune', d, dpoBytes));
  return rows;
}
