import type { Plugin } from 'vite';
import { describe, expect, it } from 'vitest';
import { UsageError } from './args.ts';
import { GPU_FAULT_VARIABLE, gpuFault } from './test-faults.ts';

const transform = (plugin: Plugin, id: string) =>
  (plugin.transform as (code: string, id: string) => { code: string } | undefined)('export {};', id);

describe('gpuFault', () => {
  it('adds nothing when the variable is unset', () => {
    expect(gpuFault(undefined)).toEqual([]);
    expect(gpuFault('')).toEqual([]);
  });

  it('prepends the fault to the trainer worker only, with the label pattern given', () => {
    const [plugin] = gpuFault('out-of-memory:^logits$');
    const worker = transform(plugin, '/repo/packages/trainer/src/worker.ts?worker_file&type=module');
    expect(worker?.code).toMatch(/^\{\n {2}const label = \/\^logits\$\/;/);
    expect(worker?.code.endsWith('export {};')).toBe(true);
    expect(transform(plugin, '/repo/packages/trainer/src/service.ts')).toBeUndefined();
    expect(transform(plugin, '/repo/apps/cli/page/main.ts')).toBeUndefined();
  });

  it('refuses a spec it does not know, saying the form it takes', () => {
    expect(() => gpuFault('device-lost')).toThrow(UsageError);
    expect(() => gpuFault('device-lost')).toThrow(
      `${GPU_FAULT_VARIABLE}=device-lost: give out-of-memory:<regular expression of a buffer label>`,
    );
  });
});
