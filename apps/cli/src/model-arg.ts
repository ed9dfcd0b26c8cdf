// `--model <dir|hub-id>` and `--adapter <dir>`: where things come from, and what the page must see.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkDatasetSize, DatasetEncodingError, decodeDataset, type ModelSource } from '@webtune/trainer';
import { UsageError } from './args.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface ModelArg {
  /** Folders the page needs served (name -> path). */
  mounts: Record<string, string>;
  /** Builds the source once the engine knows the mounted URL. */
  source(localUrl: (name: string) => string): ModelSource;
  label: string;
  /** A Hub id (downloaded from $WEBTUNE_HF_ENDPOINT / $HF_ENDPOINT), not a local folder. */
  hub: boolean;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function modelArg(value: string | undefined): ModelArg {
  if (!value) throw new UsageError('--model is required: a Hugging Face model folder or a Hub id like Qwen/Qwen2.5-0.5B');
  const dir = resolve(value);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UsageError(`--model ${value} is a file; give the folder that holds config.json`);
    if (!existsSync(join(dir, 'config.json')))
      throw new UsageError(`--model ${value} has no config.json; is it a Hugging Face model folder?`);
    // The page reads the folder's files over loopback, which serves regular files only: a link to a device or a pipe
    // would be reported there as missing.
    for (const name of readdirSync(dir)) if (/\.(json|safetensors)$/.test(name)) requireRegularFile('model', value, dir, name);
    return {
      mounts: { model: dir },
      source: (url) => ({ kind: 'url', baseUrl: url('model'), id: basename(dir) }),
      label: dir,
      hub: false,
    };
  }
  const [repo, revision, ...rest] = value.split('@');
  if (!HUB_ID.test(repo)) throw new UsageError(`--model ${value}: no such folder, and not a Hub id (owner/name[@revision])`);
  if (rest.length > 0 || revision === '')
    throw new UsageError(`--model ${value}: a Hub id takes one revision after a single @ (owner/name@main, @v1.0 or a commit hash)`);
  const endpoint = process.env.WEBTUNE_HF_ENDPOINT ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT;
  const token = process.env.HF_TOKEN;
  return {
    mounts: {},
    source: () => ({ kind: 'hub', repo, revision, endpoint, token }),
    label: `${repo}${revision ? `@${revision}` : ''} (${endpoint})`,
    hub: true,
  };
}

/** Refuses `name` in the folder of `--<flag> <value>` unless it is a regular file (or a link to one). */
function requireRegularFile(flag: string, value: string, dir: string, name: string): void {
  const stat = statSync(join(dir, name), { throwIfNoEntry: false });
  if (stat?.isFile()) return;
  const kind = !stat ? 'a link to nothing' : stat.isDirectory() ? 'a folder' : 'not a regular file (a device, pipe or socket)';
  throw new UsageError(
    `--${flag} ${value}: ${name} is ${kind}; the ${flag === 'model' ? "model's" : "adapter's"} files must be regular files`,
  );
}

/** A PEFT adapter folder given on the command line, read in Node. */
export interface AdapterFiles {
  /** The folder as the user wrote it. */
  dir: string;
  /** The flag it came with, without dashes ("adapter", "ref-adapter"). */
  flag: string;
  files: { name: string; data: Uint8Array }[];
  /** adapter_config.json's base_model_name_or_path, when it has one. */
  baseModel: string | null;
}

/** A PEFT adapter folder's files, read in Node. */
export function readAdapterDir(value: string, flag = 'adapter'): AdapterFiles {
  const dir = resolve(value);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--${flag} ${value} is not a folder (give the folder with adapter_config.json)`);
  const wanted = ['adapter_config.json', 'adapter_model.safetensors', 'training_config.json'];
  const present = readdirSync(dir).filter((f) => wanted.includes(f));
  for (const f of wanted.slice(0, 2))
    if (!present.includes(f)) throw new UsageError(`--${flag} ${value} has no ${f}; is it a PEFT adapter folder?`);
  for (const name of present) requireRegularFile(flag, value, dir, name);
  const files = present.map((name) => {
    try {
      return { name, data: new Uint8Array(readFileSync(join(dir, name))) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UsageError(`--${flag} ${value}: ${name} cannot be read (${code === 'EACCES' ? 'permission denied' : code})`);
    }
  });
  let baseModel: string | null = null;
  try {
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    if (typeof config?.base_model_name_or_path === 'string' && config.base_model_name_or_path) baseModel = config.base_model_name_or_path;
  } catch {
    // The trainer reports a broken adapter_config.json with the details.
  }
  return { dir: value, flag, files, baseModel };
}

/**
 * A text file the user named with `flag`: strict UTF-8, size-checked, read before any browser starts. Whatever keeps it
 * from being read (no such file, a folder, a device or a pipe, no permission) is a UsageError naming the flag.
 */
export function readTextFile(flag: string, value: string): { text: string; file: string } {
  const path = resolve(value);
  if (!existsSync(path)) throw new UsageError(`${flag} ${value}: no such file`);
  const stat = statSync(path);
  if (stat.isDirectory()) throw new UsageError(`${flag} ${value} is a folder: give a JSONL file`);
  // A device (/dev/zero) or a pipe has no size to check and may never end.
  if (!stat.isFile()) throw new UsageError(`${flag} ${value} is not a regular file (a device, pipe or socket): give a JSONL file`);
  try {
    // Strict UTF-8 (readFileSync's 'utf8' would put U+FFFD in place of bad bytes and train on them), size checked first.
    checkDatasetSize(value, stat.size);
    return { text: decodeDataset(value, readFileSync(path)), file: basename(path) };
  } catch (err) {
    if (err instanceof DatasetEncodingError) throw new UsageError(`${flag} ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`${flag} ${value} cannot be read: permission denied`);
    if (code === 'EISDIR' || code === 'EIO') throw new UsageError(`${flag} ${value} cannot be read (${code})`);
    throw err;
  }
}

export function readDataFile(value: string | undefined, flag = '--data'): { text: string; file: string } {
  if (!value) throw new UsageError(`${flag} is required: a JSONL file`);
  return readTextFile(flag, value);
}
