// What the CLI tests share: a temp folder per test with its own browser profile per run, the fixture checkpoints,
// tiny datasets, a safetensors reader, and the shape every rejection must have (one line on stderr).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@webtune/harness';
import { expect } from 'vitest';
import { type CliResult, cliAsync } from './cli.ts';

export const FIXTURES = join(REPO_ROOT, 'packages/trainer/test/fixtures');
/** Llama, BF16, GQA, untied lm_head: hidden 64, kv 2 x 16, intermediate 88, vocab 320. */
export const LLAMA = join(FIXTURES, 'llama-gqa-bf16');
/** Qwen2, F16, MQA with q/k/v bias: hidden 48. */
export const QWEN = join(FIXTURES, 'qwen2-bias-f16');
/** The files of a Hugging Face model folder (the fixtures also hold goldens and an adapter). */
export const MODEL_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

export const SFT_ROWS = [
  { prompt: 'Hello', completion: ' world' },
  { prompt: 'The cat', completion: ' sat on the mat' },
  { prompt: 'One two', completion: ' three four' },
  { prompt: 'Red green', completion: ' blue' },
];
export const DPO_ROWS = [
  { prompt: 'Hello', chosen: ' world', rejected: ' moon' },
  { prompt: 'The cat', chosen: ' sat', rejected: ' ran away' },
  { prompt: 'One two', chosen: ' three', rejected: ' five' },
  { prompt: 'Red green', chosen: ' blue', rejected: ' car' },
];

/** The environment of a user who set none of webtune's or the Hub's variables (this machine's browser choice kept). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['HF_TOKEN', 'HF_ENDPOINT', 'WEBTUNE_HF_ENDPOINT', 'WEBTUNE_DEBUG', 'WEBTUNE_PROFILE_DIR']) delete env[k];
  return { ...env, ...extra };
}

export interface Workspace {
  dir: string;
  path(...parts: string[]): string;
  /** Write a JSONL file (rows as objects, or raw lines) and return its path. */
  jsonl(name: string, rows: (object | string)[]): string;
  /** A copy of a fixture's model files, for breaking one of them. */
  copyModel(from: string, name: string): string;
  /** Run the CLI with a fresh browser profile inside this folder (no state shared between runs). */
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  remove(): void;
}

export function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'webtune-cli-'));
  let runs = 0;
  const path = (...parts: string[]) => join(dir, ...parts);
  return {
    dir,
    path,
    jsonl(name, rows) {
      const file = path(name);
      writeFileSync(file, `${rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
      return file;
    },
    copyModel(from, name) {
      const to = path(name);
      mkdirSync(to, { recursive: true });
      for (const f of MODEL_FILES) copyFileSync(join(from, f), join(to, f));
      return to;
    },
    run(args, env = {}) {
      runs += 1;
      return cliAsync(args, { env: cleanEnv({ WEBTUNE_PROFILE_DIR: path(`profile-${runs}`), ...env }) });
    },
    remove() {
      if (!process.env.WEBTUNE_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts the run succeeded, showing its stderr when it did not. */
export function expectOk(r: CliResult): void {
  expect(r.code, `exit code ${r.code}; stderr:\n${r.stderr}`).toBe(0);
}

/**
 * A rejection: exit `code`, nothing on stdout, exactly one `webtune <command>: ...` line on stderr (the last one), no
 * stack trace and no page-internal URL anywhere. Returns the message after the prefix.
 */
export function expectRejection(r: CliResult, command: string, code: number, ...patterns: (RegExp | string)[]): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => l.startsWith(`webtune ${command}: `));
  expect(errors, `stderr:\n${r.stderr}`).toHaveLength(1);
  expect(lines.at(-1)).toBe(errors[0]);
  expect(r.stderr).not.toMatch(/^\s+at |\.ts:\d+:\d+|\/node_modules\/|__local|Error: Error/m);
  expect(r.stdout).toBe('');
  expect(r.code, `stderr:\n${r.stderr}`).toBe(code);
  const message = errors[0].slice(`webtune ${command}: `.length);
  for (const p of patterns) {
    if (typeof p === 'string') expect(message).toContain(p);
    else expect(message).toMatch(p);
  }
  return message;
}

/** A rejection found before Chromium starts: the error line is all of stderr, exit code 2. */
export function expectUsageError(r: CliResult, command: string, ...patterns: (RegExp | string)[]): string {
  const message = expectRejection(r, command, 2, ...patterns);
  expect(r.stderr).toBe(`webtune ${command}: ${message}\n`);
  return message;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file, parsed by the format's definition: u64 LE header length, JSON header, data section. */
export function readSafetensors(file: string): {
  header: Record<string, SafetensorsEntry>;
  metadata: Record<string, string> | undefined;
  f32(name: string): Float32Array;
} {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const parsed = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = parsed;
  const header = tensors as Record<string, SafetensorsEntry>;
  const data = bytes.subarray(8 + n);
  const size = { F32: 4, F16: 2, BF16: 2 } as Record<string, number>;
  let end = 0;
  for (const [name, t] of Object.entries(header)) {
    const [a, b] = t.data_offsets;
    expect(b - a, `${name}: byte length vs shape`).toBe(t.shape.reduce((x, y) => x * y, 1) * (size[t.dtype] ?? Number.NaN));
    end = Math.max(end, b);
  }
  expect(data.length, 'data section length').toBe(end);
  return {
    header,
    metadata: metadata as Record<string, string> | undefined,
    f32(name) {
      const t = header[name];
      expect(t?.dtype).toBe('F32');
      const [a, b] = t.data_offsets;
      return new Float32Array(data.buffer.slice(data.byteOffset + a, data.byteOffset + b));
    },
  };
}

export function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** metrics.jsonl: one JSON object per line, and nothing else. */
export function readJsonl(file: string): Record<string, number>[] {
  const text = readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l));
}
