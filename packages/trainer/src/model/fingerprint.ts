// Content hashes that name a model and an adapter stack by what they compute, not by what they are called. The DPO
// reference cache is keyed on them: two checkpoints under one name (a folder overwritten, a Hub branch that moved, two
// "model" folders) or one adapter imported twice get the cache entry their contents deserve, never each other's.
import { hashKey } from '../hash.ts';
import type { LoraConfig } from './lora-config.ts';
import type { WeightFile } from './weight-file.ts';

/**
 * Bytes per digest call: crypto.subtle hashes a copy of its input, so a shard is hashed a piece at a time. A piece is
 * held three times while it is hashed (as read, framed by hashKey, crypto.subtle's copy), beside the load's own
 * blocks: at 64 MiB that was up to 270 MiB of the page's memory during a load (Qwen2.5-0.5B, docs/performance.md).
 * The piece size is part of the format ("v2": 8 MiB; "v1" was 64 MiB).
 */
export const FINGERPRINT_CHUNK = 8 * 2 ** 20;

/** What a checkpoint's fingerprint covers: every file that changes the tokens or the numbers. */
export interface ModelContent {
  config: string;
  tokenizerJson: string;
  tokenizerConfig: string;
  /** File name -> the file (model.safetensors, or every shard). */
  safetensors: Map<string, WeightFile>;
}

/**
 * SHA-256 (hex) over config.json, tokenizer.json, tokenizer_config.json and every weight byte (each shard by name,
 * length, and the hashes of its `chunk`-byte pieces). The id or folder the files came from is not part of it.
 */
export async function modelFingerprint(m: ModelContent, chunk = FINGERPRINT_CHUNK): Promise<string> {
  const parts = ['webtune model v2', m.config, m.tokenizerJson, m.tokenizerConfig];
  const files = [...m.safetensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, file] of files) {
    parts.push(name, String(file.size));
    // One piece at a time, read and hashed and let go: the file is never held whole.
    for (let at = 0; at < file.size; at += chunk) {
      parts.push(await hashKey([await file.read(at, Math.min(at + chunk, file.size), 'bytes to fingerprint')]));
    }
  }
  return hashKey(parts);
}

/** What an adapter computes with: its LoRA settings and its PEFT tensors (a stored record is one). */
export interface AdapterContent {
  lora: LoraConfig;
  tensors: { name: string; shape: number[]; data: Float32Array }[];
}

/**
 * SHA-256 (hex) of an adapter stack, base first, by what changes its output: the scale's inputs (r, lora_alpha,
 * use_rslora), the targets and every tensor's name, shape and values. Not its id, name, dates or dropout.
 */
export async function adapterFingerprint(stack: AdapterContent[]): Promise<string> {
  const parts: (string | Uint8Array)[] = ['webtune adapters v1', String(stack.length)];
  for (const { lora, tensors } of stack) {
    const { r, alpha, useRslora } = lora;
    parts.push(JSON.stringify({ r, alpha, useRslora, targets: [...lora.targetModules].sort() }), String(tensors.length));
    for (const t of [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
      parts.push(t.name, t.shape.join(','), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hashKey(parts);
}
