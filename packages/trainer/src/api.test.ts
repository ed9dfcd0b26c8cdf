// ERROR_NAMES is the list of every error class a trainer call can reject with: each class's name is on it, and every
// name on it (but the browser's own) belongs to a class, so the studio's table of names (checked by the compiler
// against ERROR_NAMES) covers them all.
import {
  DeviceLostError,
  GpuInternalError,
  GpuOutOfMemoryError,
  GpuValidationError,
  KernelCompileError,
  ShapeError,
} from '@webtune/kernels';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES, isErrorName } from './api.ts';
import { DatasetError } from './data/formats.ts';
import { TokenizerError } from './data/tokenizer.ts';
import { ExportError } from './export/files.ts';
import { LessonError } from './lesson/lesson.ts';
import { ConfigError } from './model/config.ts';
import { LoraError } from './model/lora-config.ts';
import { SafetensorsError } from './model/safetensors.ts';
import { ModelSourceError } from './model/source.ts';
import { StorageError } from './store/db.ts';
import { AdapterFilesError } from './store/export.ts';
import { ZipError } from './store/zip.ts';
import { ConfigValueError } from './train/config.ts';
import { TrainingError } from './train/trainer.ts';

const THROWN: Error[] = [
  new ShapeError('matmul', 'k differs'),
  new KernelCompileError('matmul', [], ''),
  new GpuOutOfMemoryError('step 1', 'detail'),
  new GpuValidationError('step 1', 'detail'),
  new GpuInternalError('step 1', 'detail'),
  new DeviceLostError('unknown', 'detail'),
  new ModelSourceError('not-found', 'gone'),
  new ConfigError('config.json', 'bad'),
  new TokenizerError('tokenizer.json', 'bad'),
  new SafetensorsError('model.safetensors', null, 'bad'),
  new LoraError('bad'),
  new DatasetError('data.jsonl', 'no rows', [], {}),
  new ConfigValueError('bad'),
  new TrainingError('bad'),
  new StorageError('quota', 'full'),
  new AdapterFilesError('bad'),
  new ZipError('bad'),
  new LessonError('bad'),
  new ExportError('bad'),
];

/** Errors the browser raises and the worker passes through as they are. */
const BROWSER = ['AbortError', 'QuotaExceededError', 'DataCloneError'];

describe('ERROR_NAMES', () => {
  it("lists every error class's name, and nothing else but the browser's own", () => {
    const names = THROWN.map((e) => e.name);
    for (const name of names) expect(isErrorName(name), name).toBe(true);
    expect([...ERROR_NAMES].sort()).toEqual([...names, ...BROWSER].sort());
  });

  it('tells other names apart', () => {
    expect(isErrorName('TypeError')).toBe(false);
    expect(isErrorName('PeftError')).toBe(false);
  });
});
