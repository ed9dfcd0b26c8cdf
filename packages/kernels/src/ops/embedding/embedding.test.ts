import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/gpu.ts';
import { type DType, Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { embeddingBackwardRef, embeddingForwardRef } from './embedding.ref.ts';
import { embeddingBackward, embeddingForward } from './embedding.ts';

const fake = (shape: number[], label: string, dtype: DType = 'f32', buffer = {} as GPUBuffer) => new Tensor(buffer, shape, dtype, label);
// Shape checks run before the GPU is touched.
const noGpu = {} as Gpu;

describe('embedding references', () => {
  // table [3, 2]: rows [1, 2], [3, 4], [5, 6]
  const table = [1, 2, 3, 4, 5, 6];

  it('forward gathers rows, zeros for ids past the table', () => {
    expect(Array.from(embeddingForwardRef(table, [2, 0, 2, 3], 2))).toEqual([5, 6, 1, 2, 5, 6, 0, 0]);
  });

  it('backward sums repeated ids, skips ids past the table, and accumulates', () => {
    const dout = [1, 2, 10, 20, 100, 200, 7, 7];
    expect(Array.from(embeddingBackwardRef(dout, [2, 0, 2, 3], 3).dtable)).toEqual([10, 20, 0, 0, 101, 202]);
    expect(Array.from(embeddingBackwardRef(dout, [2, 0, 2, 3], 3, [1, 1, 1, 1, 1, 1]).dtable)).toEqual([11, 21, 1, 1, 102, 203]);
  });

  it('backward agrees with finite differences', () => {
    const [V, C] = [5, 3];
    const ids = [4, 1, 4, 0, 4, 9];
    const t = uniform(V * C, 1);
    const dout = uniform(ids.length * C, 2);
    const num = numericGrad((tab) => dot(dout, embeddingForwardRef(tab, ids, C)), t);
    const { dtable } = embeddingBackwardRef(dout, ids, V);
    for (let i = 0; i < dtable.length; i++) expect(dtable[i]).toBeCloseTo(num[i], 7);
  });
});

describe('embedding shape checks', () => {
  const table = fake([10, 4], 'embed_tokens');
  const ids = fake([3], 'input_ids', 'u32');

  it('names the tensors and their shapes', async () => {
    await expect(embeddingForward(noGpu, { out: fake([3, 5], 'h'), table, ids })).rejects.toThrow(ShapeError);
    await expect(embeddingForward(noGpu, { out: fake([3, 5], 'h'), table, ids })).rejects.toThrow(
      'embedding: out must be [3, 4] for ids input_ids[3] and table embed_tokens[10, 4]; got out h[3, 5]',
    );
    await expect(embeddingForward(noGpu, { out: fake([3, 4], 'h'), table, ids: fake([1, 3], 'input_ids', 'u32') })).rejects.toThrow(
      'embedding: ids must be [N] with N >= 1; got ids input_ids[1, 3]',
    );
    await expect(embeddingBackward(noGpu, { dtable: fake([40], 'dE'), dout: fake([3, 4], 'dh'), ids })).rejects.toThrow(
      'embedding backward: dtable must be [V, C] with V, C >= 1; got dtable dE[40]',
    );
  });

  it('checks dtypes and buffer sharing', async () => {
    await expect(embeddingForward(noGpu, { out: fake([3, 4], 'h'), table, ids: fake([3], 'input_ids', 'i32') })).rejects.toThrow(
      'embedding: ids must be u32, got i32',
    );
    const arena = {} as GPUBuffer;
    await expect(
      embeddingBackward(noGpu, {
        dtable: fake([10, 4], 'dE', 'f32', arena),
        dout: fake([3, 4], 'dh'),
        ids: fake([3], 'input_ids', 'u32', arena),
      }),
    ).rejects.toThrow('embedding backward: dtable must not share a buffer with ids');
  });
});
