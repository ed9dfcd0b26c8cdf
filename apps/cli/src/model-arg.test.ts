import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from './args.ts';
import { modelArg, readAdapterDir, readTextFile } from './model-arg.ts';

const dir = mkdtempSync(join(tmpdir(), 'webtune-model-arg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The UsageError `readTextFile` throws, as the user reads it. */
const refusal = (value: string) => {
  try {
    readTextFile('--data', value);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`${value} was read`);
};

describe('readTextFile: whatever keeps a file from being read is named, with the flag', () => {
  it('reads a UTF-8 file and names it by its base name', () => {
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, '{"text":"café"}\n');
    expect(readTextFile('--data', file)).toEqual({ text: '{"text":"café"}\n', file: 'rows.jsonl' });
  });

  it('no such file, a folder, a device, a pipe', () => {
    expect(refusal(join(dir, 'gone.jsonl'))).toBe(`--data ${join(dir, 'gone.jsonl')}: no such file`);
    expect(refusal(dir)).toBe(`--data ${dir} is a folder: give a JSONL file`);
    for (const device of ['/dev/zero', '/dev/null'])
      expect(refusal(device)).toBe(`--data ${device} is not a regular file (a device, pipe or socket): give a JSONL file`);
  });

  it.skipIf(process.getuid?.() === 0)('a file without read permission', () => {
    const file = join(dir, 'locked.jsonl');
    writeFileSync(file, '{}\n');
    chmodSync(file, 0o000);
    expect(refusal(file)).toBe(`--data ${file} cannot be read: permission denied`);
  });
});

describe('modelArg: a local folder whose files the page cannot be served', () => {
  it('names a model file that is a link to a device, a broken link, or a folder', () => {
    const model = join(dir, 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'config.json'), '{}');
    writeFileSync(join(model, 'README.md'), 'not read');
    expect(modelArg(model).label).toBe(model);
    symlinkSync('/dev/zero', join(model, 'model.safetensors'));
    expect(() => modelArg(model)).toThrow(
      `--model ${model}: model.safetensors is not a regular file (a device, pipe or socket); the model's files must be regular files`,
    );
    rmSync(join(model, 'model.safetensors'));
    symlinkSync(join(dir, 'gone.safetensors'), join(model, 'model.safetensors'));
    expect(() => modelArg(model)).toThrow(
      `--model ${model}: model.safetensors is a link to nothing; the model's files must be regular files`,
    );
    rmSync(join(model, 'model.safetensors'));
    mkdirSync(join(model, 'tokenizer.json'));
    expect(() => modelArg(model)).toThrow(`--model ${model}: tokenizer.json is a folder; the model's files must be regular files`);
  });
});

describe('readAdapterDir: an adapter folder whose files cannot be read is named, with the flag', () => {
  it('a file that is a folder or a link to a device; a missing file', () => {
    const adapter = join(dir, 'adapter');
    mkdirSync(adapter);
    writeFileSync(join(adapter, 'adapter_config.json'), '{"base_model_name_or_path": "org/base"}');
    expect(() => readAdapterDir(adapter, 'ref-adapter')).toThrow(
      `--ref-adapter ${adapter} has no adapter_model.safetensors; is it a PEFT adapter folder?`,
    );
    mkdirSync(join(adapter, 'adapter_model.safetensors'));
    expect(() => readAdapterDir(adapter)).toThrow(
      `--adapter ${adapter}: adapter_model.safetensors is a folder; the adapter's files must be regular files`,
    );
    rmSync(join(adapter, 'adapter_model.safetensors'), { recursive: true });
    symlinkSync('/dev/zero', join(adapter, 'adapter_model.safetensors'));
    expect(() => readAdapterDir(adapter)).toThrow(
      `--adapter ${adapter}: adapter_model.safetensors is not a regular file (a device, pipe or socket); the adapter's files must be regular files`,
    );
    rmSync(join(adapter, 'adapter_model.safetensors'));
    writeFileSync(join(adapter, 'adapter_model.safetensors'), 'bytes');
    expect(readAdapterDir(adapter)).toMatchObject({ dir: adapter, flag: 'adapter', baseModel: 'org/base' });
  });
});
