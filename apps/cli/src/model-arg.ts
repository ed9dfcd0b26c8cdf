// `--model <dir|hub-id>` and `--adapter <dir>`: where things come from, and what the page must see.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ModelSource } from '@webtune/trainer';
import { UsageError } from './args.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface ModelArg {
  /** Folders the page needs served (name -> path). */
  mounts: Record<string, string>;
  /** Builds the source once the engine knows the mounted URL. */
  source(localUrl: (name: string) => string): ModelSource;
  label: string;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function modelArg(value: string | undefined): ModelArg {
  if (!value) throw new UsageError('--model is required: a Hugging Face model folder or a Hub id like Qwen/Qwen2.5-0.5B');
  const dir = resolve(value);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--model ${value} is a file; give the folder that holds config.json`);
    if (!existsSync(join(dir, 'config.json')))
      throw new UsageError(`--model ${value} has no config.json; is it a Hugging Face model folder?`);
    return { mounts: { model: dir }, source: (url) => ({ kind: 'url', baseUrl: url('model'), id: basename(dir) }), label: dir };
  }
  const [repo, revision] = value.split('@');
  if (!HUB_ID.test(repo)) throw new UsageError(`--model ${value}: no such folder, and not a Hub id (owner/name[@revision])`);
  const endpoint = process.env.WEBTUNE_HF_ENDPOINT ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT;
  const token = process.env.HF_TOKEN;
  return {
    mounts: {},
    source: () => ({ kind: 'hub', repo, revision, endpoint, token }),
    label: `${repo}${revision ? `@${revision}` : ''} (${endpoint})`,
  };
}

/** A PEFT adapter folder's files, read in Node. */
export function readAdapterDir(value: string, flag = 'adapter'): { name: string; data: Uint8Array }[] {
  const dir = resolve(value);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--${flag} ${value} is not a folder (give the folder with adapter_config.json)`);
  const wanted = ['adapter_config.json', 'adapter_model.safetensors', 'training_config.json'];
  const present = readdirSync(dir).filter((f) => wanted.includes(f));
  for (const f of wanted.slice(0, 2)) if (!present.includes(f)) throw new UsageError(`--${flag} ${value} has no ${f}`);
  return present.map((name) => ({ name, data: new Uint8Array(readFileSync(join(dir, name))) }));
}

export function readDataFile(value: string | undefined): { text: string; file: string } {
  if (!value) throw new UsageError('--data is required: a JSONL file');
  const path = resolve(value);
  if (!existsSync(path) || !statSync(path).isFile()) throw new UsageError(`--data ${value}: no such file`);
  return { text: readFileSync(path, 'utf8'), file: basename(path) };
}
