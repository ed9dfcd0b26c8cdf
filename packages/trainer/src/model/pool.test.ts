import { BINDING_ALIGN, type Gpu, Tensor } from '@webtune/kernels';
import { describe, expect, it } from 'vitest';
import { ActivationPool, SLOTS_BUFFER_BYTES } from './pool.ts';

/** What the pool uses of a Gpu: tensor(), making a buffer of the asked size that counts its destroy() calls. */
function fakeGpu() {
  const made: (GPUBuffer & { destroyed: number; label: string })[] = [];
  const gpu = {
    tensor(shape: readonly number[], label: string, dtype: Tensor['dtype'] = 'f32') {
      const b = { size: shape.reduce((a, n) => a * n, 1) * 4, label, destroyed: 0, destroy: () => b.destroyed++ };
      made.push(b as unknown as GPUBuffer & { destroyed: number; label: string });
      return new Tensor(b as unknown as GPUBuffer, shape, dtype, label);
    },
  };
  return { gpu: gpu as unknown as Gpu, made };
}

describe('ActivationPool.slots', () => {
  it('lays same-shaped tensors out in one buffer, each slot on a binding boundary, named by its label', () => {
    const { gpu, made } = fakeGpu();
    const pool = new ActivationPool(gpu);
    // 3 x 5 = 15 floats: each slot takes 64 (BINDING_ALIGN / 4), so every slot can be bound.
    const xs = pool.slots('residual stream', [3, 5], ['L0.x', 'L1.x', 'L2.x']);
    expect(made.map((b) => [b.label, b.size])).toEqual([['residual stream 0', 3 * BINDING_ALIGN]]);
    expect(xs.map((t) => [t.label, t.byteOffset, t.shape])).toEqual([
      ['L0.x', 0, [3, 5]],
      ['L1.x', BINDING_ALIGN, [3, 5]],
      ['L2.x', 2 * BINDING_ALIGN, [3, 5]],
    ]);
    expect(new Set(xs.map((t) => t.buffer)).size).toBe(1);
    // The same request again is the same buffer; nothing new is made.
    expect(pool.slots('residual stream', [3, 5], ['L0.x', 'L1.x', 'L2.x'])[2].buffer).toBe(xs[2].buffer);
    expect(made).toHaveLength(1);
    // tensors() gives a slot at a time with its label, for the non-finite search to name.
    expect(pool.tensors().map((t) => [t.label, t.byteOffset, t.size])).toEqual([
      ['L0.x', 0, 64],
      ['L1.x', BINDING_ALIGN, 64],
      ['L2.x', 2 * BINDING_ALIGN, 64],
    ]);
    // A longer batch: a new buffer (the version moves: steps built before are stale), the old one freed by collect().
    const version = pool.version;
    const longer = pool.slots('residual stream', [20, 5], ['L0.x', 'L1.x', 'L2.x']);
    expect(pool.version).toBeGreaterThan(version);
    expect(made.map((b) => b.size)).toEqual([3 * BINDING_ALIGN, 3 * 2 * BINDING_ALIGN]);
    expect(longer[1].byteOffset).toBe(2 * BINDING_ALIGN);
    expect(made[0].destroyed).toBe(0);
    pool.collect();
    expect(made[0].destroyed).toBe(1);
  });

  it('splits the slots over buffers of at most SLOTS_BUFFER_BYTES', () => {
    const { gpu, made } = fakeGpu();
    const pool = new ActivationPool(gpu);
    const rows = SLOTS_BUFFER_BYTES / 4 / 2 / 64; // two slots of [rows, 64] fill one buffer exactly
    const labels = ['a', 'b', 'c', 'd', 'e'];
    const xs = pool.slots('s', [rows, 64], labels);
    expect(made.map((b) => [b.label, b.size])).toEqual([
      ['s 0', SLOTS_BUFFER_BYTES],
      ['s 1', SLOTS_BUFFER_BYTES],
      ['s 2', SLOTS_BUFFER_BYTES / 2],
    ]);
    expect(xs.map((t) => [made.indexOf(t.buffer as (typeof made)[number]), t.byteOffset])).toEqual([
      [0, 0],
      [0, SLOTS_BUFFER_BYTES / 2],
      [1, 0],
      [1, SLOTS_BUFFER_BYTES / 2],
      [2, 0],
    ]);
  });
});

describe('ActivationPool.reserve', () => {
  it("makes what another pool was asked for (a compile pass's), once, so that a build after it grows nothing", () => {
    const { gpu: standIns } = fakeGpu();
    const asked = new ActivationPool(standIns);
    asked.get('hf', [4, 8]);
    asked.get('ids', [4], 'u32');
    asked.slots('residual stream', [4, 8], ['L0.x', 'L1.x']);
    const { gpu, made } = fakeGpu();
    const pool = new ActivationPool(gpu);
    pool.get('hf', [2, 8]); // a smaller shape met before: grown
    pool.reserve(asked.wanted);
    expect(made.map((b) => [b.label, b.size])).toEqual([
      ['hf', 64],
      ['hf', 128],
      ['ids', 16],
      ['residual stream 0', 2 * BINDING_ALIGN],
    ]);
    const version = pool.version;
    pool.reserve(asked.wanted); // held at their sizes: nothing new
    expect(pool.get('ids', [4], 'u32').dtype).toBe('u32');
    pool.slots('residual stream', [4, 8], ['L0.x', 'L1.x']);
    expect(made).toHaveLength(4);
    expect(pool.version).toBe(version);
  });
});
