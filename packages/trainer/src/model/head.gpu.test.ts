// The logits computed a chunk of rows at a time (head.ts) give the log-probs, log-sum-exps and LoRA gradients of
// the whole [N, V] at once, bit for bit: every op computes a row from that row alone. Chunks of 64 rows over N = 80
// rows, so the last chunk is partial; the SFT backward runs through both chunks.
import { gpuTest } from '@webtune/harness/page';
import { Gpu, IGNORE_INDEX, seededRandom } from '@webtune/kernels';
import { check, sameBits } from '../../test/engine.ts';
import { loadFixture } from '../../test/fixtures.ts';
import { parseAdapterConfig } from '../store/peft.ts';
import { ROW_ALIGN } from './head.ts';
import { LoraAdapter } from './lora.ts';
import { Model } from './model.ts';
import { bytesWeightFiles } from './weight-file.ts';

gpuTest('chunked lm_head + cross-entropy equals the unchunked one bit for bit: log-probs, lse, LoRA gradients', async ({ device }) => {
  const gpu = new Gpu(device);
  const f = await loadFixture('mistral-window-f32');
  const model = await Model.load(gpu, f.config, bytesWeightFiles(new Map([['model.safetensors', f.model]])));
  const adapter = LoraAdapter.fromPeft(gpu, model.config, parseAdapterConfig(f.adapterConfig).lora, f.adapter);
  const [B, T, V] = [1, 80, model.config.vocabSize];
  const N = B * T;
  const rand = seededRandom(7);
  const ids = Uint32Array.from({ length: N }, () => Math.floor(rand() * V));
  const positions = Uint32Array.from({ length: N }, (_, i) => i % T);
  const targets = Uint32Array.from({ length: N }, (_, i) => (i % 7 === 3 ? IGNORE_INDEX : ids[(i + 1) % N]));
  const weights = Float32Array.from({ length: N }, (_, i) => (targets[i] === IGNORE_INDEX ? 0 : rand() / N));

  const run = async (logitsChunkRows?: number) => {
    const grads = adapter.like('grads');
    const step = await model.step(B, T, { frozen: [], trainable: { adapter, grads }, train: true, logitsChunkRows });
    gpu.write(step.ids, ids);
    gpu.write(step.positions, positions);
    gpu.write(step.targets, targets);
    gpu.write(step.lossWeights, weights);
    gpu.run(...step.forward, ...step.backward);
    const out = {
      rows: step.logits.shape[0],
      logprobs: await gpu.read(step.logprobs),
      lse: await gpu.read(step.lse),
      grads: await gpu.read(grads),
    };
    grads.buffer.destroy();
    return out;
  };
  const whole = await run();
  check(whole.rows === N, `unchunked: logits of ${whole.rows} rows, expected all ${N}`);
  const chunked = await run(ROW_ALIGN);
  check(chunked.rows === ROW_ALIGN, `chunks of ${ROW_ALIGN}: a logits buffer of ${chunked.rows} rows`);
  sameBits(chunked.logprobs, whole.logprobs, `log-probs, chunks of ${ROW_ALIGN} rows`);
  sameBits(chunked.lse, whole.lse, `lse, chunks of ${ROW_ALIGN} rows`);
  sameBits(chunked.grads, whole.grads, `LoRA gradients, chunks of ${ROW_ALIGN} rows`);
  check(
    whole.grads.some((g) => g !== 0),
    'the gradients are all zero',
  );
  model.destroy();
});
