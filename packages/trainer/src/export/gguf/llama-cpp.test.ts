// A reader no one here wrote: llama.cpp (through node-llama-cpp's prebuilt CPU build) loads the GGUF files webtune
// writes, tokenizes prompts as webtune's tokenizer does, and continues them greedily token for token as the float64
// reference forward (testing/forward64.ts, itself checked against the PyTorch goldens in merge.test.ts) continues
// the same model. webtune's own generation runs on WebGPU in a browser, so the Node-side reference is the float64
// forward of exactly the weights the file holds (F16: the f16-rounded merge).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLAMA_QWEN2_FIXTURES } from '../../../test/fixtures.ts';
import { TextTokenizer } from '../../data/tokenizer.ts';
import type { FloatDType } from '../dtype.ts';
import { fileBytes } from '../files.ts';
import { type Checkpoint, mergeAdapters, openCheckpointBytes } from '../merge.ts';
import { safetensorsFiles } from '../safetensors-out.ts';
import { forward64, greedy64, inMemory } from '../testing/forward64.ts';
import { DEMO_MODEL, FIXTURE_ROOT, loadAdapter, loadBase } from '../testing/node-fixtures.ts';
import { ggufLoraFile } from './lora.ts';
import { ggufModelFile } from './model.ts';

const PROMPTS = ['the cat sat on', 'Hello, world! It is', 'numbers 12345 and'];
const NEW_TOKENS = 8;

let llama: Llama;
let dir: string;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
  dir = mkdtempSync(join(tmpdir(), 'webtune-gguf-'));
});
afterAll(async () => {
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The merged model with its weights as stored in `dtype` (what a reader of that file computes with). */
async function asStored(model: Checkpoint, dtype: FloatDType): Promise<Checkpoint> {
  if (dtype === 'F32') return model;
  const bytes = await fileBytes(safetensorsFiles(model, dtype)[0]);
  return openCheckpointBytes(JSON.stringify(model.configJson), new Map([['model.safetensors', bytes]]));
}

async function greedyLlamaCpp(model: LlamaModel, prompt: number[], n = NEW_TOKENS): Promise<number[]> {
  const context = await model.createContext({ contextSize: 64, batchSize: 64, threads: 1 });
  try {
    const out: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt as never, { temperature: 0 })) {
      out.push(t as number);
      if (out.length >= n) break;
    }
    return out;
  } finally {
    await context.dispose();
  }
}

/** llama.cpp stops at an end-of-generation token and does not yield it: the reference's tokens before its first EOS. */
const untilEos = (tokens: number[], eos: number) => (tokens.includes(eos) ? tokens.slice(0, tokens.indexOf(eos)) : tokens);

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
        const path = join(dir, `${name}-${type}.gguf`);
        writeFileSync(path, await fileBytes(ggufModelFile(merged, { type, name, tokenizer })));
        const model = await llama.loadModel({ modelPath: path });
        try {
          const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
          const reference = await inMemory(await asStored(merged, type));
          for (const text of PROMPTS) {
            const ids = tok.encode(text);
            expect(Array.from(model.tokenize(text)), `llama.cpp's tokens of ${JSON.stringify(text)}`).toEqual(ids);
            const prompt = tok.bosTokenId !== null && base.config.architecture === 'LlamaForCausalLM' ? [tok.bosTokenId, ...ids] : ids;
            const want = greedy64(reference, prompt, NEW_TOKENS);
            expect(Math.min(...want.margins), 'no near-tie in the reference (else either token is right)').toBeGreaterThan(1e-3);
            expect(await greedyLlamaCpp(model, prompt), `continuation of ${JSON.stringify(text)}`).toEqual(
              untilEos(want.tokens, tok.eosTokenId),
            );
          }
        } finally {
          await model.dispose();
        }
      }, 120_000);
    }
    it(`${name}: the base GGUF plus the GGUF LoRA continue as the merged model`, async () => {
      const { base, files } = await loadBase(`${FIXTURE_ROOT}/${name}`);
      const adapter = loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`);
      const tokenizer = tokenizerOf(files);
      const basePath = join(dir, `${name}-base.gguf`);
      const loraPath = join(dir, `${name}-lora.gguf`);
      writeFileSync(basePath, await fileBytes(ggufModelFile(base, { type: 'F32', name, tokenizer })));
      writeFileSync(loraPath, await fileBytes(ggufLoraFile(base.config, [adapter], { name: `${name} adapter` })));
      const model = await llama.loadModel({ modelPath: basePath });
      try {
        const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
        const merged = await inMemory(mergeAdapters(base, [adapter]));
        const unmerged = await inMemory(base);
        let differs = false;
        for (const text of PROMPTS) {
          const ids = tok.encode(text);
          const prompt = tok.bosTokenId !== null && base.config.architecture === 'LlamaForCausalLM' ? [tok.bosTokenId, ...ids] : ids;
          const want = greedy64(merged, prompt, NEW_TOKENS);
          const context = await model.createContext({
            contextSize: 64,
            batchSize: 64,
            threads: 1,
            lora: { adapters: [{ filePath: loraPath }] },
          });
          try {
            const got: number[] = [];
            for await (const t of context.getSequence().evaluate(prompt as never, { temperature: 0 })) {
              got.push(t as number);
              if (got.length >= NEW_TOKENS) break;
            }
            expect(got, `continuation of ${JSON.stringify(text)} with the LoRA`).toEqual(untilEos(want.tokens, tok.eosTokenId));
            differs ||= got.join() !== untilEos(greedy64(unmerged, prompt, NEW_TOKENS).tokens, tok.eosTokenId).join();
          } finally {
            await context.dispose();
          }
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
  ] as const) {
    it(`${name} Q8_0: llama.cpp's greedy tokens are within 2% of the logit range of the merged model's best`, async () => {
      const { base, files } = await loadBase(folder);
      const merged = adapter ? mergeAdapters(base, [loadAdapter(adapter)]) : base;
      const weights = await inMemory(merged);
      const tokenizer = tokenizerOf(files);
      const path = join(dir, `${name}-Q8_0.gguf`);
      writeFileSync(path, await fileBytes(ggufModelFile(merged, { type: 'Q8_0', name, tokenizer })));
      const model = await llama.loadModel({ modelPath: path });
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

  // Qwen3 ("qwen3": the q/k norms) and Mistral ("llama"): the fixtures use sliding windows (and Qwen3's attention
  // biases), which llama.cpp's architectures do not have and the writer refuses (model.test.ts); these variants of the
  // same checkpoints switch them off in config.json, which is what a released Qwen3 or a full-attention Mistral is.
  for (const [name, edits] of [
    ['qwen3-qknorm-bf16', { use_sliding_window: false, attention_bias: false }],
    ['mistral-window-f32', { sliding_window: null }],
  ] as const) {
    for (const type of ['F32', 'F16'] as const) {
      it(`${name} (${Object.keys(edits).join(', ')} off) ${type}: llama.cpp continues greedily as the float64 forward`, async () => {
        const { files } = await loadBase(`${FIXTURE_ROOT}/${name}`);
        const config = { ...JSON.parse(new TextDecoder().decode(files.get('config.json'))), ...edits };
        const base = await openCheckpointBytes(
          JSON.stringify(config),
          new Map([['model.safetensors', files.get('model.safetensors') as Uint8Array]]),
        );
        const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`)]);
        const tokenizer = tokenizerOf(files);
        const path = join(dir, `${name}-variant-${type}.gguf`);
        writeFileSync(path, await fileBytes(ggufModelFile(merged, { type, name, tokenizer })));
        const model = await llama.loadModel({ modelPath: path });
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
            expect(await greedyLlamaCpp(model, prompt), `continuation of ${JSON.stringify(text)}`).toEqual(
              eog < 0 ? want.tokens : want.tokens.slice(0, eog),
            );
          }
        } finally {
          await model.dispose();
        }
      }, 120_000);
    }
  }
});
