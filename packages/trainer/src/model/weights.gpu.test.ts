// Frozen weights kept packed in their checkpoint's dtype (bf16, f16) compute exactly what the same
// values widened to float32 compute, bit for bit, in half the matrices' memory.
import { gpuTest } from '@webtune/harness/page';
import { Gpu, IGNORE_INDEX } from '@webtune/kernels';
import { sameBits } from '../../test/engine.ts';
import { type FixtureName, loadFixture, readAll } from '../../test/fixtures.ts';
import { parseModelConfig } from './config.ts';
import { Model } from './model.ts';
import { writeSafetensors } from './safetensors.ts';
import { bytesWeightFiles } from './weight-file.ts';
import { allTensors, destroyWeights, uploadWeights } from './weights.ts';

const [B, T] = [2, 7];

/** Logits and log-probs of a forward pass over fixed ids; the weight bytes the model holds. */
async function forward(gpu: Gpu, config: string, file: Uint8Array) {
  const model = await Model.load(gpu, config, bytesWeightFiles(new Map([['model.safetensors', file]])));
  const w = model.weights;
  const matrices = new Set([w.embed, w.lmHead, ...w.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down])]);
  const matrixBytes = [...matrices].reduce((n, t) => n + t.byteLength, 0);
  const step = await model.step(B, T, { frozen: [], train: false });
  const ids = Uint32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % model.config.vocabSize);
  gpu.write(step.ids, ids);
  gpu.write(
    step.positions,
    Uint32Array.from(ids, (_, i) => i % T),
  );
  gpu.write(
    step.targets,
    Uint32Array.from(ids, (_, i) => (i % T === T - 1 ? IGNORE_INDEX : ids[i + 1])),
  );
  gpu.run(...step.forward);
  const out = {
    logits: await gpu.read(step.logits),
    logprobs: await gpu.read(step.logprobs),
    matrixBytes,
    dtypes: new Set([...matrices].map((t) => t.dtype)),
  };
  model.destroy();
  return out;
}

for (const [name, dtype] of [
  ['llama-gqa-bf16', 'bf16'],
  ['qwen2-bias-f16', 'f16'],
] as [FixtureName, string][]) {
  gpuTest(`${name}: packed ${dtype} weights give the float32-widened model's logits bit for bit, in half the bytes`, async ({ device }) => {
    const gpu = new Gpu(device);
    const f = await loadFixture(name);
    const widened = writeSafetensors(
      [...readAll('model.safetensors', f.model)].map(([n, t]) => ({ name: n, shape: t.shape, data: t.data })),
    );
    const packed = await forward(gpu, f.config, f.model);
    const f32 = await forward(gpu, f.config, widened);
    if ([...packed.dtypes].join() !== dtype) throw new Error(`the matrices were uploaded as ${[...packed.dtypes]}, not packed ${dtype}`);
    sameBits(packed.logits, f32.logits, `${name} logits`);
    sameBits(packed.logprobs, f32.logprobs, `${name} log-probs`);
    // The matrices take half the bytes (the norms and biases stay float32 in both).
    if (packed.matrixBytes * 2 !== f32.matrixBytes)
      throw new Error(`${name}: matrices take ${packed.matrixBytes} bytes packed, ${f32.matrixBytes} as f32`);
  });
}

gpuTest(
  'a checkpoint uploaded a few rows at a time holds the same words on the GPU as one uploaded a tensor at a time',
  async ({ device }) => {
    const gpu = new Gpu(device);
    for (const name of ['llama-gqa-bf16', 'llama-tied-f32'] as FixtureName[]) {
      const f = await loadFixture(name);
      const config = parseModelConfig(f.config);
      const files = bytesWeightFiles(new Map([['model.safetensors', f.model]]));
      const whole = await uploadWeights(gpu, config, files);
      const blocks = await uploadWeights(gpu, config, files, 3 * config.hiddenSize); // a row or two of every matrix at once
      const [a, b] = [allTensors(whole), allTensors(blocks)];
      for (let i = 0; i < a.length; i++) {
        const [got, want] = [await gpu.read(b[i], 'u32'), await gpu.read(a[i], 'u32')];
        sameBits(new Float32Array(got.buffer), new Float32Array(want.buffer), `${name}: ${a[i].label}`);
      }
      destroyWeights(whole);
      destroyWeights(blocks);
    }
  },
);
