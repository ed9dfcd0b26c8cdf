import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../runtime/errors.ts';
import type { Gpu } from '../../runtime/gpu.ts';
import { Tensor } from '../../runtime/tensor.ts';
import { dot, numericGrad } from '../../testing/gradcheck.ts';
import { uniform } from '../../testing/random.ts';
import { rmsnormBackwardRef, rmsnormForwardRef } from './rmsnorm.ref.ts';
import { rmsnormBackward, rmsnormForward } from './rmsnorm.ts';

const fake = (shape: number[], label: string, buffer = {} as GPUBuffer) => new Tensor(buffer, shape, 'f32', label);
// Shape checks run before the GPU is touched.
const noGpu = {} as Gpu;

describe('rmsnormForwardRef', () => {
  it('matches hand-computed rows', () => {
    // Row [3, 4]: mean square 12.5, eps 0.5 -> rstd 1/sqrt(13) = 0.27735...; row [1, -1]: rstd 1/sqrt(1.5).
    const { y, rstd } = rmsnormForwardRef([3, 4, 1, -1], [1, -2], 0.5);
    const r0 = 1 / Math.sqrt(13);
    const r1 = 1 / Math.sqrt(1.5);
    expect(rstd[0]).toBeCloseTo(0.2773500981, 10);
    expect(rstd[1]).toBeCloseTo(0.8164965809, 10);
    expect(Array.from(y)).toEqual([3 * r0, -8 * r0, r1, 2 * r1]);
  });
});

describe('rmsnormBackwardRef', () => {
  const [N, C, eps] = [3, 5, 1e-5];
  const x = uniform(N * C, 1, 2);
  const w = uniform(C, 2);
  const dy = uniform(N * C, 3);
  const loss = (xs: ArrayLike<number>, ws: ArrayLike<number>) => dot(dy, rmsnormForwardRef(xs, ws, eps).y);
  const { rstd } = rmsnormForwardRef(x, w, eps);

  it('dx and dw agree with finite differences', () => {
    const { dx, dw } = rmsnormBackwardRef(dy, x, w, rstd);
    const numX = numericGrad((xs) => loss(xs, w), x);
    const numW = numericGrad((ws) => loss(x, ws), w);
    for (let i = 0; i < dx.length; i++) expect(dx[i]).toBeCloseTo(numX[i], 6);
    for (let i = 0; i < dw.length; i++) expect(dw[i]).toBeCloseTo(numW[i], 6);
  });

  it('adds the prior dx when accumulating', () => {
    const dx0 = uniform(N * C, 4);
    const plain = rmsnormBackwardRef(dy, x, w, rstd).dx;
    const summed = rmsnormBackwardRef(dy, x, w, rstd, dx0).dx;
    for (let i = 0; i < plain.length; i++) expect(summed[i]).toBeCloseTo(plain[i] + dx0[i], 12);
  });
});

describe('rmsnorm shape checks', () => {
  const x = fake([4, 6], 'h');
  const w = fake([6], 'norm.weight');
  const rstd = fake([4], 'rstd');
  const y = fake([4, 6], 'y');

  it('names the tensor, the shape it needs and the shape it has', async () => {
    await expect(rmsnormForward(noGpu, { y, rstd, x, w: fake([5], 'norm.weight') }, { eps: 1e-6 })).rejects.toThrow(ShapeError);
    await expect(rmsnormForward(noGpu, { y, rstd, x, w: fake([5], 'norm.weight') }, { eps: 1e-6 })).rejects.toThrow(
      'rmsnorm: w must be [6] for x h[4, 6]; got w norm.weight[5]',
    );
    await expect(rmsnormForward(noGpu, { y: fake([6, 4], 'y'), rstd, x, w }, { eps: 1e-6 })).rejects.toThrow(
      'rmsnorm: y must be [4, 6] for x h[4, 6]; got y y[6, 4]',
    );
    await expect(rmsnormForward(noGpu, { y, rstd, x: fake([2, 2, 6], 'h'), w }, { eps: 1e-6 })).rejects.toThrow(
      'rmsnorm: x must be [N, C] with N, C >= 1; got x h[2, 2, 6]',
    );
  });

  it('checks the backward tensors, dw included', async () => {
    const dx = fake([4, 6], 'dx');
    const dy = fake([4, 6], 'dy');
    await expect(rmsnormBackward(noGpu, { dx, dy, x, w, rstd: fake([6], 'rstd') })).rejects.toThrow(
      'rmsnorm backward: rstd must be [4] for x h[4, 6]; got rstd rstd[6]',
    );
    await expect(rmsnormBackward(noGpu, { dx, dy, x, w, rstd, dw: fake([4], 'dw') })).rejects.toThrow(
      'rmsnorm backward: dw must be [6] for x h[4, 6]; got dw dw[4]',
    );
    await expect(rmsnormBackward(noGpu, { dx, dy, x, w, rstd: new Tensor({} as GPUBuffer, [4], 'u32', 'rstd') })).rejects.toThrow(
      'rmsnorm backward: rstd must be f32, got u32',
    );
  });

  it('rejects an output that shares a buffer with an input', async () => {
    const arena = {} as GPUBuffer;
    await expect(
      rmsnormForward(noGpu, { y: fake([4, 6], 'y', arena), rstd, x: fake([4, 6], 'h', arena), w }, { eps: 1e-6 }),
    ).rejects.toThrow('rmsnorm: y must not share a buffer with x');
  });
});
