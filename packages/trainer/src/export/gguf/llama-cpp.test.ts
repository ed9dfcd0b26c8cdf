// A reader no one here wrote: llama.cpp (through node-llama-cpp's prebuilt CPU build) loads the GGUF files webtune
// writes, tokenizes prompts as webtune's tokenizer does, and continues them greedily token for token as the float64
// reference forward (testing/forward64.ts, itself checked against the PyTorch goldens in merge.test.ts) continues
// the same model. webtune's own generation runs on WebGPU in a browser, so the Node-side reference is the float64
// forward of exactly the weights the file holds (F16: the f16-rounded merge).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LLAMA_QWEN2_FIXTURES } from '../../../test/fixtures.ts';
import { TextTokenizer } from '../../data/tokenizer.ts';
import type { FloatDType } from '../dtype.ts';
import { fileBytes } from '../files.ts';
import { type Checkpoint, mergeAdapters, openCheckpointBytes } from '../merge.ts';
import { safetensorsFiles } from '../safetensors-out.ts';
import { forward64, greedy64, inMemory } from '../testing/forward64.ts';
import { greedyLlamaCpp, untilEos, useLlamaCpp } from '../testing/llama-cpp.ts';
import { DEMO_MODEL, FIXTURE_ROOT, loadAdapter, loadBase } from '../testing/node-fixtures.ts';
import { ggufLoraFile } from './lora.ts';
import { ggufModelFile } from './model.ts';

const PROMPTS = ['the cat sat on', 'Hello, world! It is', 'numbers 12345 and'];
const NEW_TOKENS = 8;

const cpp = useLlamaCpp();

/** The merged model with its weights as stored in `dtype` (what a reader of that file computes with). */
async function asStored(model: Checkpoint, dtype: FloatDType): Promise<Checkpoint> {
  if (dtype === 'F32') return model;
  const bytes = await fileBytes(safetensorsFiles(model, dtype)[0]);
  return openCheckpointBytes(JSON.stringify(model.configJson), new Map([['model.safetensors', bytes]]));
}

/**
 * A fixture with config.json edited (a feature llama.cpp lacks switched off, as released models have it), and its
 * adapter: Qwen3 and Mistral use sliding windows (and Qwen3 attention biases) the "qwen3" and "llama" GGUFs lack.
 * SmolLM3 gets four layers, RoPE left out of the 4th only (llama.cpp's smollm3 fixes that pattern; the fixture's two
 * layers leave it out of the 2nd): layers 2 and 3 repeat layers 0 and 1, the adapter stays on 0 and 1.
 * Gemma 3's query_pre_attn_scalar becomes head_dim (llama.cpp scales by 1/sqrt(head_dim), as for every released
 * size but the 27B), and torch_dtype float32: llama.cpp multiplies embeddings by sqrtf(n_embd) in float32, as the
 * float32 merged model does, where the bf16 checkpoint rounds that scale to bf16 (gemma3.ts). Its sliding layers
 * (window 4, every other layer) and their RoPE base stay: the prompts run past the window.
 */
const VARIANTS = {
  'qwen3-qknorm-bf16': { use_sliding_window: false, attention_bias: false },
  'mistral-window-f32': { sliding_window: null },
  'smollm3-nope-f16': { num_hidden_layers: 4, no_rope_layers: [1, 1, 1, 0] },
  'gemma3-sandwich-bf16': { query_pre_attn_scalar: 16, torch_dtype: 'float32' },
  // Llama 3.1/3.2's RoPE scaling, its original context shrunk from 8192 to 32 so that at head_dim 16 the pairs fall
  // in all three bands (wavelengths 6.3 unchanged, 20 smoothed, 63 and up divided by 8) and the prompts' positions
  // turn them visibly: without rope_freqs llama.cpp continues otherwise.
  'llama-gqa-bf16': {
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 },
  },
} as const;

async function loadVariant(name: keyof typeof VARIANTS): Promise<{ base: Checkpoint; files: Map<string, Uint8Array> }> {
  const { base: fixture, files } = await loadBase(`${FIXTURE_ROOT}/${name}`);
  const config: Record<string, unknown> = { ...fixture.configJson, ...VARIANTS[name] };
  const n = fixture.config.numLayers;
  // Layer i past the fixture's n is a copy of layer i mod n.
  const source = (t: string) => t.replace(/^model\.layers\.(\d+)\./, (_, i) => `model.layers.${Number(i) % n}.`);
  const extra = fixture.tensors
    .filter((t) => t.name.startsWith('model.layers.'))
    .flatMap((t) =>
      Array.from({ length: Number(config.num_hidden_layers) / n - 1 }, (_, k) => ({
        ...t,
        name: t.name.replace(/^model\.layers\.(\d+)\./, (_, i) => `model.layers.${Number(i) + n * (k + 1)}.`),
      })),
    );
  const weights = await fileBytes(
    safetensorsFiles({ tensors: [...fixture.tensors, ...extra], read: (t, rows) => fixture.read(source(t), rows) }, 'F32')[0],
  );
  return { base: await openCheckpointBytes(JSON.stringify(config), new Map([['model.safetensors', weights]])), files };
}

function tokenizerOf(files: Map<string, Uint8Array>) {
  const text = (n: string) => JSON.parse(new TextDecoder().decode(files.get(n)));
  return { json: text('tokenizer.json'), config: text('tokenizer_config.json') };
}

describe('GGUF model read by llama.cpp (node-llama-cpp)', () => {
  for (const name of LLAMA_QWEN2_FIXTURES) {
    for (const type of ['F32', 'F16', 'BF16'] as const) {
      it(`${name} ${type}: llama.cpp tokenizes and continues greedily as the float64 forward of the merged model`, async () => {
        const { base, files } = await loadBase(`${FIXTURE_ROOT}/${name}`);
        const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`)]);
        const tokenizer = tokenizerOf(files);
        const path = join(cpp.dir, `${name}-${type}.gguf`);
        writeFileSync(path, await fileBytes(ggufModelFile(merged, { type, name, tokenizer })));
        const model = await cpp.llama.loadModel({ modelPath: path });
        try {
          const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
          const reference = await inMemory(await asStored(merged, type));
          for (const text of PROMPTS) {
            const ids = tok.encode(text);
            expect(Array.from(model.tokenize(text)), `llama.cpp's tokens of ${JSON.stringify(text)}`).toEqual(ids);
            const prompt = tok.bosTokenId !== null && base.config.architecture === 'LlamaForCausalLM' ? [tok.bosTokenId, ...ids] : ids;
            const want = greedy64(reference, prompt, NEW_TOKENS);
            expect(Math.min(...want.margins), 'no near-tie in the reference (else either token is right)').toBeGreaterThan(1e-3);
            expect(await greedyLlamaCpp(model, prompt, NEW_TOKENS), `continuation of ${JSON.stringify(text)}`).toEqual(
              untilEos(want.tokens, tok.eosTokenId),
            );
          }
        } finally {
          await model.dispose();
        }
      }, 120_000);
    }
  }

  for (const name of LLAMA_QWEN2_FIXTURES) {
    it(`${name}: the base GGUF plus the GGUF LoRA continue as the merged model`, async () => {
      const { base, files } = await loadBase(`${FIXTURE_ROOT}/${name}`);
      const adapter = loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`);
      const tokenizer = tokenizerOf(files);
      const basePath = join(cpp.dir, `${name}-base.gguf`);
      const loraPath = join(cpp.dir, `${name}-lora.gguf`);
      writeFileSync(basePath, await fileBytes(ggufModelFile(base, { type: 'F32', name, tokenizer })));
      writeFileSync(loraPath, await fileBytes(ggufLoraFile(base.config, [adapter], { name: `${name} adapter` })));
      const model = await cpp.llama.loadModel({ modelPath: basePath });
      try {
        const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
        const merged = await inMemory(mergeAdapters(base, [adapter]));
        const unmerged = await inMemory(base);
        let differs = false;
        for (const text of PROMPTS) {
          const ids = tok.encode(text);
          const prompt = tok.bosTokenId !== null && model.tokens.bos !== null ? [tok.bosTokenId, ...ids] : ids;
          const want = greedy64(merged, prompt, NEW_TOKENS);
          const got = await greedyLlamaCpp(model, prompt, NEW_TOKENS, loraPath);
          expect(got, `continuation of ${JSON.stringify(text)} with the LoRA`).toEqual(untilEos(want.tokens, tok.eosTokenId));
          differs ||= got.join() !== untilEos(greedy64(unmerged, prompt, NEW_TOKENS).tokens, tok.eosTokenId).join();
        }
        expect(differs, 'the adapter changes some continuation (else this proves nothing)').toBe(true);
      } finally {
        await model.dispose();
      }
    }, 120_000);
  }

  // Q8_0 is lossy, so llama.cpp's tokens are held to a stated tolerance against the merged float32 model rather than
  // to equality: at every step of llama.cpp's greedy continuation, the token it picked has, in the float64 forward of
  // the merged model over the same tokens, a logit within 2% of that step's logit range (max − min) of the best one;
  // and the first divergence from the merged model's own greedy continuation comes at the second token or later.
  // Measured here: largest gap 0.73% of the range (llama-gqa-bf16, "Once upon a time"), first divergence at the third token.
  // The demo model's matrices are all Q8_0; llama-gqa-bf16's down_proj rows (88) are not whole blocks and stay F16.
  const Q8_PROMPTS = [...PROMPTS, 'Once upon a time', 'Q: what is 2+2? A:'];
  const Q8_TOKENS = 16;
  for (const [name, folder, adapter] of [
    ['demo', DEMO_MODEL, null],
    ['llama-gqa-bf16', `${FIXTURE_ROOT}/llama-gqa-bf16`, `${FIXTURE_ROOT}/llama-gqa-bf16/adapter`],
    ['gemma3-sandwich-bf16', null, `${FIXTURE_ROOT}/gemma3-sandwich-bf16/adapter`],
  ] as const) {
    it(`${name} Q8_0: llama.cpp's greedy tokens are within 2% of the logit range of the merged model's best`, async () => {
      const { base, files } = folder === null ? await loadVariant('gemma3-sandwich-bf16') : await loadBase(folder);
      const merged = adapter ? mergeAdapters(base, [loadAdapter(adapter)]) : base;
      const weights = await inMemory(merged);
      const tokenizer = tokenizerOf(files);
      const path = join(cpp.dir, `${name}-Q8_0.gguf`);
      writeFileSync(path, await fileBytes(ggufModelFile(merged, { type: 'Q8_0', name, tokenizer })));
      const model = await cpp.llama.loadModel({ modelPath: path });
      try {
        const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
        for (const text of Q8_PROMPTS) {
          const ids = tok.encode(text);
          expect(Array.from(model.tokenize(text)), `llama.cpp's tokens of ${JSON.stringify(text)}`).toEqual(ids);
          const prompt = tok.bosTokenId !== null ? [tok.bosTokenId, ...ids] : ids;
          const got = await greedyLlamaCpp(model, prompt, Q8_TOKENS);
          expect(got.length, 'llama.cpp continues').toBeGreaterThan(0);
          const logits = forward64(weights, [...prompt, ...got]);
          for (const [i, token] of got.entries()) {
            const step = logits[prompt.length - 1 + i];
            const best = Math.max(...step);
            const range = best - Math.min(...step);
            expect(best - step[token], `${JSON.stringify(text)} step ${i}: gap of llama.cpp's token`).toBeLessThanOrEqual(0.02 * range);
          }
          const want = untilEos(greedy64(weights, prompt, Q8_TOKENS).tokens, tok.eosTokenId);
          const firstDivergence = want.findIndex((t, i) => t !== got[i]);
          expect(firstDivergence === -1 || firstDivergence >= 1, `${JSON.stringify(text)}: first divergence`).toBe(true);
        }
      } finally {
        await model.dispose();
      }
    }, 300_000);
  }

  // Qwen3 ("qwen3": the q/k norms), Mistral ("llama"), Llama 3.x's RoPE scaling (the rope_freqs tensor) and Gemma 3
  // ("gemma3": sandwich norms, 1 + w, GeGLU, the embedding scale, sliding layers with their own RoPE base), as
  // VARIANTS edits them.
  for (const name of Object.keys(VARIANTS) as (keyof typeof VARIANTS)[]) {
    for (const type of ['F32', 'F16'] as const) {
      it(`${name} (${Object.keys(VARIANTS[name]).join(', ')} edited) ${type}: llama.cpp continues greedily as the float64 forward`, async () => {
        const { base, files } = await loadVariant(name);
        const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`)]);
        const tokenizer = tokenizerOf(files);
        const path = join(cpp.dir, `${name}-variant-${type}.gguf`);
        writeFileSync(path, await fileBytes(ggufModelFile(merged, { type, name, tokenizer })));
        const model = await cpp.llama.loadModel({ modelPath: path });
        try {
          const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
          const reference = await inMemory(await asStored(merged, type));
          for (const text of PROMPTS) {
            const ids = tok.encode(text);
            expect(Array.from(model.tokenize(text)), `llama.cpp's tokens of ${JSON.stringify(text)}`).toEqual(ids);
            const prompt = tok.bosTokenId !== null && model.tokens.bos !== null ? [tok.bosTokenId, ...ids] : ids;
            const want = greedy64(reference, prompt, NEW_TOKENS);
            expect(Math.min(...want.margins), 'no near-tie in the reference (else either token is right)').toBeGreaterThan(1e-3);
            // llama.cpp also ends at tokens it knows as end-of-generation by their text (Qwen's <|endoftext|>).
            const eog = want.tokens.findIndex((t) => model.isEogToken(t as never));
            expect(await greedyLlamaCpp(model, prompt, NEW_TOKENS), `continuation of ${JSON.stringify(text)}`).toEqual(
              eog < 0 ? want.tokens : want.tokens.slice(0, eog),
            );
          }
        } finally {
          await model.dispose();
        }
      }, 120_000);
    }
  }
  // Logits, not only tokens: llama.cpp's (node-llama-cpp's controlledEvaluate, attention in float32) at every position
  // of a prompt that runs past the sliding windows, against the float64 forward's, as a fraction of that position's
  // logit range (max − min). F32 file and base GGUF + GGUF LoRA: within 1e-5 (measured 4e-7, float32 rounding), Gemma 3
  // within 2e-4 (measured 9.8e-5: ggml's GELU looks its input up in an F16 table, ggml-cpu/vec.h GGML_GELU_FP16);
  // F16 file, against the f16-rounded merge: within 4e-3 (ggml multiplies F16 weights by activations rounded to F16, and
  // its kernels for that depend on the CPU: measured 1.6e-4 to 8.0e-4 on one CPU, up to 2.0e-3 on an AVX-512 one,
  // smollm3-nope-f16: still a tenth of what the adapter's weights alone do). The adapter must move the logits by more
  // than 0.05 of the range (measured 0.22 to 0.59). The tiny random Gemma 3 repeats one token whatever the prompt, so
  // its agreeing greedy tokens prove little; the bf16-rounded embedding scale (gemma3.ts) would put its F32 logits
  // 5.6e-4 off.
  for (const name of Object.keys(VARIANTS) as (keyof typeof VARIANTS)[])
    it(`${name}: llama.cpp's logits at every position are the float64 forward's (F32, F16, base + LoRA)`, async () => {
      const { base, files } = await loadVariant(name);
      const adapter = loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`);
      const merged = mergeAdapters(base, [adapter]);
      const tokenizer = tokenizerOf(files);
      const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
      const text = tok.encode('the cat sat on the mat, and then it ran');
      const ids = tok.bosTokenId !== null ? [tok.bosTokenId, ...text] : text;
      const error = async (path: string, reference: Checkpoint, lora?: string) => {
        const model = await cpp.llama.loadModel({ modelPath: path });
        // Attention in float32: a float32 KV cache (the default F16 one rounds every key and value to 11 bits) and no
        // flash attention (on the CPU it multiplies in F16).
        const context = await model.createContext({
          contextSize: 64,
          batchSize: 64,
          threads: 1,
          experimentalKvCacheKeyType: 'F32',
          experimentalKvCacheValueType: 'F32',
          flashAttention: false,
          lora: lora ? { adapters: [{ filePath: lora }] } : undefined,
        });
        try {
          const out = await context.getSequence().controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }] as never));
          const want = forward64(await inMemory(reference), ids);
          let worst = 0;
          for (const [i, step] of want.entries()) {
            const got = out[i]?.next.logits;
            if (!got) throw new Error(`llama.cpp gave no logits at position ${i}`);
            const range = Math.max(...step) - Math.min(...step);
            for (const [v, x] of step.entries()) worst = Math.max(worst, Math.abs((got.get(v as never) ?? Number.NaN) - x) / range);
          }
          return worst;
        } finally {
          await context.dispose();
          await model.dispose();
        }
      };
      const write = async (file: string, f: Parameters<typeof fileBytes>[0]) => {
        writeFileSync(join(cpp.dir, file), await fileBytes(f));
        return join(cpp.dir, file);
      };
      const f32 = await write(`${name}-logits-F32.gguf`, ggufModelFile(merged, { type: 'F32', name, tokenizer }));
      const f16 = await write(`${name}-logits-F16.gguf`, ggufModelFile(merged, { type: 'F16', name, tokenizer }));
      const baseFile = await write(`${name}-logits-base.gguf`, ggufModelFile(base, { type: 'F32', name, tokenizer }));
      const lora = await write(`${name}-logits-lora.gguf`, ggufLoraFile(base.config, [adapter], { name }));
      const exact = name === 'gemma3-sandwich-bf16' ? 2e-4 : 1e-5;
      expect(await error(f32, merged), 'F32').toBeLessThanOrEqual(exact);
      expect(await error(f16, await asStored(merged, 'F16')), 'F16').toBeLessThanOrEqual(4e-3);
      expect(await error(baseFile, merged, lora), 'base + LoRA').toBeLessThanOrEqual(exact);
      expect(await error(baseFile, base, lora), 'the adapter moves the logits').toBeGreaterThan(0.05);
    }, 120_000);
});
