// How the runtime turns what WebGPU reports into errors a user can act on, with a fake device
// (out-of-memory and driver resets cannot be provoked on demand on a real one).
import { describe, expect, it } from 'vitest';
import { DeviceLostError, GpuOutOfMemoryError, GpuValidationError, ShapeError } from './errors.ts';
import { Gpu } from './gpu.ts';

/** A device whose error scopes report `errors` (innermost scope first) and that can be lost. */
function fakeDevice(errors: { oom?: string; validation?: string } = {}) {
  let lose: (info: { reason: string; message: string }) => void = () => {};
  const scopes: string[] = [];
  const device = {
    features: new Set<string>(),
    limits: { maxComputeWorkgroupsPerDimension: 65535 },
    lost: new Promise((resolve) => {
      lose = resolve;
    }),
    pushErrorScope: (filter: string) => scopes.push(filter),
    popErrorScope: async () => {
      const filter = scopes.pop();
      const message = filter === 'out-of-memory' ? errors.oom : errors.validation;
      return message ? { message } : null;
    },
  };
  return { device: device as unknown as GPUDevice, lose };
}

describe('Gpu.checked', () => {
  it('turns an out-of-memory scope error into advice on what to shrink', async () => {
    const { device } = fakeDevice({ oom: 'Not enough memory left' });
    const err = await new Gpu(device).checked('training step 3', () => undefined).catch((e) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err.message).toBe(
      'Out of GPU memory during training step 3 (Not enough memory left). Use a smaller batch size or max length, ' +
        'a smaller LoRA rank, or a smaller model; closing other GPU-heavy tabs and apps also frees memory.',
    );
  });

  it('turns a validation scope error into one naming the work', async () => {
    const { device } = fakeDevice({ validation: 'Buffer is destroyed' });
    const err = await new Gpu(device).checked('loading weights', () => 1).catch((e) => e);
    expect(err).toBeInstanceOf(GpuValidationError);
    expect(err.message).toBe('WebGPU validation error during loading weights: Buffer is destroyed');
  });

  it('lets the work`s own error through first, and returns its value when all is well', async () => {
    const { device } = fakeDevice({ validation: 'later' });
    await expect(new Gpu(device).checked('x', () => Promise.reject(new ShapeError('op', 'bad')))).rejects.toThrow('op: bad');
    await expect(new Gpu(fakeDevice().device).checked('x', () => 42)).resolves.toBe(42);
  });
});

describe('device loss', () => {
  it('reports a driver reset once, with what to do, and refuses every later call', async () => {
    const { device, lose } = fakeDevice();
    const gpu = new Gpu(device);
    const seen: DeviceLostError[] = [];
    gpu.onLost = (e) => seen.push(e);
    lose({ reason: 'unknown', message: 'GPU hang detected' });
    await Promise.resolve();
    await Promise.resolve();
    expect(seen).toHaveLength(1);
    expect(seen[0].message).toMatch(
      /^The GPU device was lost \(GPU hang detected\)\. .*Reload the page \(or rerun the command\) to continue; saved adapters and checkpoints are kept\.$/,
    );
    expect(() => gpu.tensor([1], 'x')).toThrow(DeviceLostError);
    await expect(gpu.checked('x', () => 1)).rejects.toThrow(DeviceLostError);
  });
});
