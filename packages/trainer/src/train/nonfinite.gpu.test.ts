// The NaN detector (nonfinite.ts) on the llama-gqa-bf16 fixture: an overflow forced at a known operation is named (the
// op, the tensor it wrote, the micro-batch), in the diverged run's message; a healthy step shows no non-finite value
// anywhere (no activation buffer legitimately holds an infinity, which would make the search name a false origin).
import { gpuTest } from '@webtune/harness/page';
import { check, config, internals, service, sftJsonl } from '../../test/engine.ts';
import { readSftDataset } from '../data/formats.ts';
import { prepareSft } from '../data/tokenize.ts';
import { LoraAdapter } from '../model/lora.ts';
import { settle } from '../objectives/objective.ts';
import { RunControl } from './control.ts';
import { locateNonFinite } from './nonfinite.ts';
import { objectiveFor, type RunState, runTraining } from './trainer.ts';

async function setup() {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const report = readSftDataset(sftJsonl(8, 3), 'sft.jsonl');
  const data = { method: 'sft' as const, examples: prepareSft(loaded.tokenizer, report.rows, report.lines, 16).examples };
  const cfg = config('sft', { maxSteps: 2, gradientAccumulationSteps: 2 });
  return { gpu, loaded, data, cfg };
}

gpuTest('a healthy step: run again operation by operation, nothing is non-finite', async () => {
  const { gpu, loaded, data, cfg } = await setup();
  const adapter = LoraAdapter.create(gpu, loaded.model.config, cfg.lora, cfg.seed);
  const grads = adapter.like('lora grads');
  const ctx = { gpu, model: loaded.model, frozen: [], adapter, grads, config: cfg, padId: loaded.tokenizer.padTokenId };
  const objective = objectiveFor(data, ctx);
  const window = [
    [0, 1],
    [2, 3],
  ];
  const totals = objective.totals(window.flat());
  try {
    const said = await locateNonFinite({ gpu, pool: loaded.model.pool, adapter, grads }, window.length, (i) =>
      objective.microBatch(window[i], totals, i).then((outcome) => settle(gpu, outcome)),
    );
    check(
      /^Run again operation by operation, every activation and gradient of the step stays finite; the largest gradient entry is -?\d[\d.e+-]* \(in the gradient of base_model\.model\.model\.layers\.\d\.\w+\.\w+\.lora_[AB]\.weight\)/.test(
        said,
      ),
      said,
    );
  } finally {
    objective.release();
    grads.buffer.destroy();
    adapter.destroy();
  }
});

/**
 * Layer 1's v_proj LoRA set to A = B = 1e30 (finite): z = x A^T stays within float32 (|x| ~ 1 after the norm, 64
 * inputs), but z B^T is ~1e61, so the first value past float32's range is written by that matmul ("L1.v_proj lora_B")
 * into layer 1's values: pool buffer "L1.v" when every layer keeps its own, "v" with gradient checkpointing (the
 * default), where the layers share their buffers and the operation's label names the layer. Everything before it
 * (layer 0, layer 1's q and k) is finite.
 */
for (const [gradientCheckpointing, tensor] of [
  [true, 'v'],
  [false, 'L1\\.v'],
] as const)
  gpuTest(
    `a forced overflow is named by its operation, the tensor it wrote and the micro-batch (gradient_checkpointing ${gradientCheckpointing})`,
    async () => {
      const setUp = await setup();
      const { gpu, loaded, data } = setUp;
      const cfg = { ...setUp.cfg, gradientCheckpointing };
      const fresh = LoraAdapter.create(gpu, loaded.model.config, cfg.lora, cfg.seed);
      const params = await gpu.read(fresh.params);
      const slot = fresh.slot(1, 'v_proj');
      check(slot !== undefined, 'no v_proj slot in layer 1');
      params.fill(1e30, slot.aOffset, slot.aOffset + cfg.lora.r * slot.inF);
      params.fill(1e30, slot.bOffset, slot.bOffset + slot.outF * cfg.lora.r);
      fresh.destroy();
      const zeros = new Float32Array(params.length);
      const resume: RunState = {
        optimizerStep: 0,
        epoch: 0,
        cursor: 0,
        params,
        m: zeros,
        v: zeros,
        metrics: [],
        pending: [],
        numTokens: 0,
      };
      const out = await runTraining(gpu, loaded.model, [], data, cfg, loaded.tokenizer.padTokenId, {
        onEvent: () => {},
        control: new RunControl(),
        resume,
      });
      out.adapter.destroy();
      check(out.status === 'diverged', `status ${out.status}: ${out.message}`);
      check(
        out.message.startsWith(
          'Training stopped at step 1: the loss is NaN. No step was completed, so nothing is saved; no update was made yet, so the learning rate is not the cause',
        ),
        out.message,
      );
      const origin = new RegExp(
        `It first appeared at operation (\\d+) of (\\d+) of micro-batch 1 of 2, "L1\\.v_proj lora_B", which wrote (NaN|-?Infinity) into activation ${tensor} \\(element \\d+ of \\d+\\)\\.$`,
      ).exec(out.message);
      check(origin !== null, `the origin is not named as expected: ${out.message}`);
      check(Number(origin[1]) < Number(origin[2]) / 2, `operation ${origin[1]} of ${origin[2]}: not in the forward`);
    },
  );
