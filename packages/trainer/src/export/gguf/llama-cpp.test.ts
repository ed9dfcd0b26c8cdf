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
import { type Checkpoint, mergeAdapters, openCheckpoint } from '../merge.ts';
import { safetensorsFiles } from '../safetensors-out.ts';
import { greedy64 } from '../testing/forward64.ts';
import { FIXTURE_ROOT, loadAdapter, loadBase } from '../testing/node-fixtures.ts';
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
  return openCheckpoint(JSON.stringify(model.configJson), new Map([['model.safetensors', bytes]]));
}

async function greedyLlamaCpp(model: LlamaModel, prompt: number[]): Promise<number[]> {
  const context = await model.createContext({ contextSize: 64, batchSize: 64, threads: 1 });
  try {
    const out: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt as never, { temperature: 0 })) {
      out.push(t as number);
      if (out.length >= NEW_TOKENS) break;
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
        const { base, files } = loadBase(`${FIXTURE_ROOT}/${name}`);
        const merged = mergeAdapters(base, [loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`)]);
        const tokenizer = tokenizerOf(files);
        const path = join(dir, `${name}-${type}.gguf`);
        writeFileSync(path, await fileBytes(ggufModelFile(merged, { type, name, tokenizer })));
        const model = await llama.loadModel({ modelPath: path });
        try {
          const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
          const reference = await asStored(merged, type);
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
      const { base, files } = loadBase(`${FIXTURE_ROOT}/${name}`);
      const adapter = loadAdapter(`${FIXTURE_ROOT}/${name}/adapter`);
      const tokenizer = tokenizerOf(files);
      const basePath = join(dir, `${name}-base.gguf`);
      const loraPath = join(dir, `${name}-lora.gguf`);
      writeFileSync(basePath, await fileBytes(ggufModelFile(base, { type: 'F32', name, tokenizer })));
      writeFileSync(loraPath, await fileBytes(ggufLoraFile(base.config, [adapter], { name: `${name} adapter` })));
      const model = await llama.loadModel({ modelPath: basePath });
      try {
        const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
        const merged = mergeAdapters(base, [adapter]);
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
            differs ||= got.join() !== untilEos(greedy64(base, prompt, NEW_TOKENS).tokens, tok.eosTokenId).join();
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
});
