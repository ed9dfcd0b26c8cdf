// The memory estimate the studio shows (train/memory.ts) against the runtime's own count of live GPU bytes
// (kernels/src/runtime/ledger.ts) over whole runs of every method on the llama-gqa-bf16 fixture: the run's peak is the
// model's weights with their RoPE tables plus the most bytes the run added at any moment (activation pool grown from
// empty, adapter, AdamW, reference pass, uniforms, reads): the ledger's peakAdded, which the collector's timing does not
// move (with peakTotal less the bytes live before, an earlier run's uniforms collected mid-run lowered it by 18% once).
import { gpuTest } from '@webtune/harness/page';
import { check, config, dataset, dpoJsonl, internals, ktoJsonl, service, sftJsonl, trained } from '../../test/engine.ts';
import { ropeTensors } from '../model/weights.ts';

/** The estimate may be off the measured peak by this fraction, either way (issue 14). */
const TOLERANCE = 0.15;
/**
 * And under it by at most this much. The estimate counts what the runtime holds (memory-other.ts); the ledger also
 * counts, until they are collected, the uniforms of steps built and dropped (a step built twice when the pool grew),
 * about 100 KB of the fixture's 2.5 MB (measured: 0.6% to 3.2% under): an estimate under by more misses something.
 */
const UNDER = 0.05;

gpuTest(
  'the memory estimate is within 15% of the ledger peak of every method and not 5% under it, activations kept or recomputed (bf16 weights packed)',
  async () => {
    const svc = await service();
    const { gpu, loaded, store } = internals(svc);
    const report: string[] = [];
    const peaks = new Map<string, number>();
    // ORPO and SimPO run DPO's pair layout without its reference pass; KTO has a reference and KL rows of its own.
    for (const [method, gradientCheckpointing] of [
      ['sft', true],
      ['sft', false],
      ['dpo', true],
      ['dpo', false],
      ['kto', true],
      ['kto', false],
      ['orpo', false],
      ['simpo', false],
    ] as const) {
      const text = method === 'sft' ? sftJsonl(8, 5) : method === 'kto' ? ktoJsonl(8, 5) : dpoJsonl(8, 5);
      const data = await dataset(svc, method, text);
      const cfg = config(method, { maxSteps: 2, batchSize: 4, gradientCheckpointing });
      const run = `${method}${gradientCheckpointing ? ' recomputed' : ' kept'}`;
      // Start from an empty activation pool, as a fresh page does: the pool keeps the largest shape any test asked for.
      // And with no reference log-probs stored, so that each DPO run computes them (its forward-only pass).
      await store.clearRefLogps();
      loaded.model.releaseSteps();
      gpu.ledger.resetPeak();
      await trained(svc, { config: cfg, datasetId: data });
      // The run frees its activations as it ends (Model.releaseSteps), before the adapter is saved.
      check(loaded.model.pool.bytes === 0, `${run}: the activation pool holds ${loaded.model.pool.bytes} B after the run`);
      const rope = ropeTensors(loaded.model.weights).reduce((n, t) => n + t.byteLength, 0);
      const measured = loaded.model.weightBytes + rope + gpu.ledger.memory.peakAdded;
      const estimate = await svc.estimateMemory({ ...cfg, evaluates: false });
      const off = estimate.total / measured - 1;
      report.push(`${run}: estimate ${estimate.total} B, measured peak ${measured} B (${(100 * off).toFixed(1)}%)`);
      check(
        Math.abs(off) <= TOLERANCE && off >= -UNDER,
        `${run}: the estimate ${estimate.total} B is ${(100 * off).toFixed(1)}% off the measured peak ${measured} B`,
      );
      peaks.set(run, measured);
    }
    for (const method of ['sft', 'dpo', 'kto'])
      check(
        peaks.get(`${method} recomputed`)! < peaks.get(`${method} kept`)!,
        `${method}: recomputing did not lower the peak (${report.join('; ')})`,
      );
    console.log(`memory estimate vs ledger: ${report.join('; ')}`);
  },
);

gpuTest("a run past this device's buffer limits is named by the estimate and refused before it allocates anything", async () => {
  const svc = await service();
  const { gpu } = internals(svc);
  const data = await dataset(svc, 'sft', sftJsonl(2, 5));
  const cfg = config('sft', { batchSize: 64, maxLength: 4096 });
  const limit = gpu.limits.maxStorageBufferBindingSize;
  const scores = 64 * 4 * 4096 * 4096 * 4; // [batch, heads, T, T] float32
  check(scores > limit, `the case must pass the limit: ${scores} B vs ${limit} B`);
  const { problems } = await svc.estimateMemory({ ...cfg, budgetBytes: 0 });
  check(
    problems.some((p) =>
      p.startsWith("one layer's attention scores [64 sequences, 4 heads, 4096, 4096] takes 16.00 GiB, more than this GPU's"),
    ),
    `problems: ${JSON.stringify(problems)}`,
  );
  gpu.ledger.resetPeak();
  const refused = await svc
    .train({ config: cfg, datasetId: data }, () => {})
    .then(
      () => null,
      (e: Error) => e,
    );
  check(refused?.name === 'TrainingError', `expected a TrainingError, got ${refused}`);
  check(
    refused.message.startsWith('This run would not fit: ') && refused.message.includes('lower the batch size or max length'),
    refused.message,
  );
  check(gpu.ledger.memory.peakAdded === 0, `the refused run allocated ${gpu.ledger.memory.peakAdded} B`);
});
