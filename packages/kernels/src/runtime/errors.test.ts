// How the runtime turns what WebGPU reports into errors a user can act on, with a fake device
// (out-of-memory and driver resets cannot be provoked on demand on a real one).
import { describe, expect, it } from 'vitest';
import { DeviceLostError, GpuOutOfMemoryError, GpuValidationError, ShapeError } from './errors.ts';
import { Gpu, strayWork } from './gpu.ts';

/** WebGPU's GPUError classes by name (the runtime tells them apart by class, as the browser's). */
class GPUValidationError {
  constructor(readonly message: string) {}
}
class GPUOutOfMemoryError {
  constructor(readonly message: string) {}
}
const ERROR_CLASS = { validation: GPUValidationError, 'out-of-memory': GPUOutOfMemoryError } as const;

/**
 * A device with WebGPU's error-scope semantics: an error goes to the innermost open scope of its
 * kind (the first error of a scope is kept), or to the 'uncapturederror' listeners if none is
 * open. `errors` are raised when their scope is popped, as if the work inside had caused them.
 */
function fakeDevice(errors: { oom?: string; validation?: string } = {}) {
  let lose: (info: { reason: string; message: string }) => void = () => {};
  const scopes: { filter: string; error: unknown }[] = [];
  const listeners: ((e: { error: unknown; preventDefault(): void }) => void)[] = [];
  const raise = (filter: keyof typeof ERROR_CLASS, message: string) => {
    const error = new ERROR_CLASS[filter](message);
    const scope = scopes.findLast((s) => s.filter === filter);
    if (!scope) for (const l of listeners) l({ error, preventDefault: () => {} });
    else scope.error ??= error;
  };
  const device = {
    features: new Set<string>(),
    limits: { maxComputeWorkgroupsPerDimension: 65535 },
    lost: new Promise((resolve) => {
      lose = resolve;
    }),
    addEventListener: (type: string, listener: (e: { error: unknown; preventDefault(): void }) => void) => {
      if (type === 'uncapturederror') listeners.push(listener);
    },
    pushErrorScope: (filter: string) => scopes.push({ filter, error: null }),
    popErrorScope: async () => {
      const scope = scopes.pop();
      if (!scope) throw new Error('popErrorScope with no scope open');
      const preset = scope.filter === 'out-of-memory' ? errors.oom : scope.filter === 'validation' ? errors.validation : undefined;
      if (preset) scope.error ??= new ERROR_CLASS[scope.filter as keyof typeof ERROR_CLASS](preset);
      return scope.error;
    },
  };
  return { device: device as unknown as GPUDevice, lose, raise, openScopes: () => scopes.length };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Gpu.checked', () => {
  it('turns an out-of-memory scope error into one naming the work (the trainer adds what to shrink)', async () => {
    const { device } = fakeDevice({ oom: 'Not enough memory left' });
    const err = await new Gpu(device).checked('training step 3', () => undefined).catch((e) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err.message).toBe('Out of GPU memory during training step 3 (Not enough memory left).');
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

describe('Gpu.checked on one device from many callers', () => {
  it('takes turns, so an error is blamed on the work that caused it, not on a call that opened its scopes later', async () => {
    const { device, raise, openScopes } = fakeDevice();
    const [a, b] = [new Gpu(device), new Gpu(device)]; // two Gpus on one device share its scopes
    const order: string[] = [];
    const first = a.checked('building attention', async () => {
      order.push('first starts');
      await tick(); // the second call arrives while this one is awaiting
      raise('validation', 'bad bind group');
      await tick();
      order.push('first ends');
    });
    const second = b.checked('building the MLP', async () => {
      order.push('second starts');
      expect(openScopes()).toBe(3); // its own three, none left of the first's
      await tick();
      return 'mlp';
    });
    const [r1, r2] = await Promise.allSettled([first, second]);
    expect(r1.status === 'rejected' && r1.reason.message).toBe('WebGPU validation error during building attention: bad bind group');
    expect(r2).toEqual({ status: 'fulfilled', value: 'mlp' });
    expect(order).toEqual(['first starts', 'first ends', 'second starts']);
  });

  it('passes its turn on when the work throws', async () => {
    const { device } = fakeDevice();
    const gpu = new Gpu(device);
    const failing = gpu.checked('a', () => Promise.reject(new ShapeError('op', 'bad')));
    await expect(Promise.all([failing, gpu.checked('b', () => 2)])).rejects.toThrow('op: bad');
    await expect(gpu.checked('c', () => 3)).resolves.toBe(3);
  });
});

describe('errors no scope caught', () => {
  it('reach onError as the runtime`s typed errors, by their WebGPU class', () => {
    const { device, raise } = fakeDevice();
    const gpu = new Gpu(device);
    const seen: Error[] = [];
    gpu.onError = (e) => seen.push(e);
    raise('validation', 'Destroyed buffer [Buffer "x"] used in a submit.');
    raise('out-of-memory', 'Not enough memory left');
    expect(seen[0]).toBeInstanceOf(GpuValidationError);
    expect(seen[0].message).toBe(
      'WebGPU validation error during GPU work outside Gpu.checked(): Destroyed buffer [Buffer "x"] used in a submit.',
    );
    expect(seen[1]).toBeInstanceOf(GpuOutOfMemoryError);
    expect(seen[1].message).toMatch(/^Out of GPU memory during GPU work outside Gpu.checked\(\) \(Not enough memory left\)\./);
  });

  it('go to one reporter per device, however many Gpus wrap it', () => {
    const { device, raise } = fakeDevice();
    const seen: string[] = [];
    new Gpu(device).onError = () => seen.push('first');
    new Gpu(device).onError = () => seen.push('second');
    raise('validation', 'x');
    expect(seen).toEqual(['second']);
  });

  it('name the kernels whose pipeline or dispatch labels the message quotes', () => {
    const kernels = new Map([
      ['matmul|main|{"WG_X":16}', 'matmul'],
      ['attention scores', 'matmul'],
      ['rope', 'rope'],
    ]);
    const message =
      'The current pipeline ([ComputePipeline "matmul|main|{"WG_X":16}"]) ... is not compatible with the [BindGroup "attention scores"]';
    expect(strayWork(message, kernels)).toBe('GPU work outside Gpu.checked() (kernel matmul)');
    expect(strayWork('[BindGroup "rope"] and [BindGroup "attention scores"]', kernels)).toBe(
      'GPU work outside Gpu.checked() (kernel matmul, rope)',
    );
    expect(strayWork('[BindGroup "ropes"]', kernels)).toBe('GPU work outside Gpu.checked()');
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
