// llama.cpp in Node for the tests that read webtune's GGUF files with it (node-llama-cpp's prebuilt CPU build, never
// built here): one instance and one temporary folder for the files per test file, and greedy continuation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll } from 'vitest';

/** llama.cpp and a folder for the GGUF files, set up before the file's tests and let go after them. */
export function useLlamaCpp(): { llama: Llama; dir: string } {
  const held = {} as { llama: Llama; dir: string };
  beforeAll(async () => {
    held.llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
    held.dir = mkdtempSync(join(tmpdir(), 'webtune-gguf-'));
  });
  afterAll(async () => {
    await held.llama?.dispose();
    if (held.dir) rmSync(held.dir, { recursive: true, force: true });
  });
  return held;
}

/**
 * llama.cpp's greedy continuation of `prompt` (token ids), `n` tokens at most (it stops early at end of generation),
 * with the GGUF LoRA at `loraPath` applied if given.
 */
export async function greedyLlamaCpp(model: LlamaModel, prompt: number[], n: number, loraPath?: string): Promise<number[]> {
  const lora = loraPath === undefined ? {} : { lora: { adapters: [{ filePath: loraPath }] } };
  const context = await model.createContext({ contextSize: 64, batchSize: 64, threads: 1, ...lora });
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
export const untilEos = (tokens: number[], eos: number) => (tokens.includes(eos) ? tokens.slice(0, tokens.indexOf(eos)) : tokens);
