// flagNonFinite: raise a [1] u32 flag when a tensor holds NaN or an infinity (where its weight is not 0), on the GPU,
// so that AdamW can skip an update whose loss or gradient norm is not finite before the host has read either.
import { type Named, requireDisjoint, requireF32, requireSameShape } from '../../runtime/checks.ts';
import { ShapeError } from '../../runtime/errors.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import { shapeStr, type Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import source from './nonfinite.wgsl?raw';

const KERNEL = { name: 'nonfinite', source };
const WG = 256;

export interface NonFiniteTensors {
  /** [...] f32, read. */
  x: Tensor;
  /** Same shape as x: only elements whose weight is not 0 count (e.g. loss weights: padding is ignored). */
  weights?: Tensor;
  /** [1] u32: set to 1 when a counted element of x is not finite; never cleared by the kernel. */
  flag: Tensor;
}

/** One dispatch that sets flag[0] = 1 when a counted element of x is NaN or an infinity, and leaves it alone else. */
export async function flagNonFinite(gpu: Gpu, { x, weights, flag }: NonFiniteTensors): Promise<Dispatch> {
  const op = 'flagNonFinite';
  const read: Named = weights
    ? [
        ['x', x],
        ['weights', weights],
      ]
    : [['x', x]];
  requireF32(op, read);
  requireSameShape(op, read);
  if (flag.size !== 1 || flag.dtype !== 'u32')
    throw new ShapeError(op, `flag must be one u32 element; got flag ${shapeStr(flag)} ${flag.dtype}`);
  requireDisjoint(op, [['flag', flag]], read);
  const params = new UniformWriter().u32(x.size).bytes();
  return gpu.dispatch(op, {
    kernel: KERNEL,
    consts: { WG, WEIGHTED: weights !== undefined },
    params,
    bind: [x, weights ?? x, flag],
    groups: Math.ceil(x.size / WG),
  });
}
