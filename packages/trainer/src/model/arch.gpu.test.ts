// What the architectures beyond Llama must keep (their numbers against PyTorch are in model.gpu.test.ts):
// - Mistral with `sliding_window: null` is Llama, bit for bit;
// - in a model that slides on every layer, a token further back than the stacked windows reach changes no later
//   position, bit for bit (masked keys add exact zeros), and does change the positions within reach;
// - generation with the KV cache gives, at every step, the last row of a full forward pass, bit for bit, for Qwen3
//   (q/k norms; a sliding layer over the cache), Mistral (sliding window), SmolLM3 (a NoPE layer) and Gemma 3 (a
//   sliding layer with the local RoPE tables, sandwich norms, scaled embeddings).
import { gpuTest } from '@webtune/harness/page';
import { Gpu, IGNORE_INDEX } from '@webtune/kernels';
import { check, sameBits } from '../../test/engine.ts';
import { type FixtureName, loadFixture } from '../../test/fixtures.ts';
import { generate } from './generate.ts';
import { Model } from './model.ts';
import { bytesWeightFiles } from './weight-file.ts';

/** Logits [B*T, V] of the base model on `rows` (all of length T), positions 0..T-1. */
async function logits(gpu: Gpu, model: Model, rows: number[][]): Promise<Float32Array> {
  const [B, T] = [rows.length, rows[0].length];
  const step = await model.step(B, T, { frozen: [], train: false });
  gpu.write(step.ids, Uint32Array.from(rows.flat()));
  gpu.write(
    step.positions,
    Uint32Array.from({ length: B * T }, (_, i) => i % T),
  );
  gpu.write(step.targets, new Uint32Array(B * T).fill(IGNORE_INDEX));
  gpu.run(...step.forward);
  return gpu.read(step.logits);
}

async function load(gpu: Gpu, name: FixtureName, edit?: (config: Record<string, unknown>) => Record<string, unknown>) {
  const f = await loadFixture(name);
  const config = edit ? JSON.stringify(edit(JSON.parse(f.config))) : f.config;
  return { f, model: await Model.load(gpu, config, bytesWeightFiles(new Map([['model.safetensors', f.model]]))) };
}

gpuTest('Mistral with sliding_window null gives the numbers of the same checkpoint read as Llama, bit for bit', async ({ device }) => {
  const gpu = new Gpu(device);
  const { f, model: mistral } = await load(gpu, 'mistral-window-f32', (c) => ({ ...c, sliding_window: null }));
  const { model: llama } = await load(gpu, 'mistral-window-f32', (c) => ({
    ...c,
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    sliding_window: undefined,
  }));
  const rows = f.golden.inputs.input_ids;
  sameBits(await logits(gpu, mistral, rows), await logits(gpu, llama, rows), 'Mistral (no window) vs Llama logits');
  // And the window does matter on these 9-token rows (so the comparison above is not vacuous).
  const { model: windowed } = await load(gpu, 'mistral-window-f32');
  const [a, b] = [await logits(gpu, windowed, rows), await logits(gpu, llama, rows)];
  check(
    a.some((x, i) => x !== b[i]),
    'a window of 4 left 9-token logits unchanged',
  );
  for (const m of [mistral, llama, windowed]) m.destroy();
});

gpuTest('sliding on every layer: a token beyond the stacked windows changes no later position', async ({ device }) => {
  const gpu = new Gpu(device);
  const { f, model } = await load(gpu, 'mistral-window-f32');
  const c = model.config;
  const V = c.vocabSize;
  // Position 0 reaches position p through at most (window - 1) keys back per layer.
  const reach = c.layers.reduce((sum, l) => sum + (l.window ?? Number.POSITIVE_INFINITY) - 1, 0);
  const rows = f.golden.inputs.input_ids.map((r) => [...r]);
  const T = rows[0].length;
  check(reach + 1 < T, `the fixture's windows reach ${reach} of ${T} positions: nothing to test`);
  const before = await logits(gpu, model, rows);
  for (const r of rows) r[0] = (r[0] + 1) % V;
  const after = await logits(gpu, model, rows);
  for (let b = 0; b < rows.length; b++) {
    for (let t = 0; t < T; t++) {
      const [x, y] = [before.subarray((b * T + t) * V, (b * T + t + 1) * V), after.subarray((b * T + t) * V, (b * T + t + 1) * V)];
      if (t > reach) sameBits(y, x, `row ${b} position ${t} (past the windows' reach of ${reach})`);
      else
        check(
          x.some((v, i) => v !== y[i]),
          `row ${b} position ${t} did not change, within reach of position 0`,
        );
    }
  }
  model.destroy();
});

const capped = (c: Record<string, unknown>) => ({ ...c, final_logit_softcapping: 10 });
for (const [name, edit, what] of [
  ['qwen3-qknorm-bf16', undefined, ''],
  ['mistral-window-f32', undefined, ''],
  ['smollm3-nope-f16', undefined, ''],
  ['gemma3-sandwich-bf16', undefined, ''],
  ['gemma3-sandwich-bf16', capped, ' (final_logit_softcapping 10: generation caps its last row too)'],
] as const) {
  gpuTest(`${name}${what}: KV-cache generation gives the last row of a full forward pass at every step`, async ({ device }) => {
    const gpu = new Gpu(device);
    const { f, model } = await load(gpu, name, edit);
    const V = model.config.vocabSize;
    const prompt = f.golden.inputs.input_ids[0].slice(0, 3);
    const steps: Float32Array[] = [];
    const o = { maxNewTokens: 8, temperature: 0, topP: 1, seed: 0, stopIds: [], vocabLimit: V };
    const out = await generate(gpu, model, [], prompt, { ...o, onLogits: (l) => steps.push(l) });
    check(out.length === 8, `${name}: ${out.length} tokens`);
    // Past the window of 4: the cache rows before it must be masked.
    for (const [k, got] of steps.entries()) {
      const seq = [...prompt, ...out.slice(0, k)];
      const full = await logits(gpu, model, [seq]);
      sameBits(got, full.slice((seq.length - 1) * V), `${name}: step ${k} logits, cached vs full`);
    }
    model.destroy();
  });
}
