// dropout: out = x * keep / (1 - p), the mask hashed from (seed, element index) so that the
// backward regenerates it instead of storing it.
import { requireElementwise } from '../../runtime/checks.ts';
import type { Dispatch, Gpu } from '../../runtime/gpu.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { UniformWriter } from '../../runtime/uniform.ts';
import { dropoutThreshold, requireSeed } from './dropout.ref.ts';
import source from './dropout.wgsl?raw';

export { dropoutMaskRef } from './dropout.ref.ts';

const KERNEL = { name: 'dropout', source };
/** Threads per workgroup; each thread owns 4 elements. */
const WG = 64;
/** Byte offset of `seed` in dropout.wgsl's Params. */
const SEED_OFFSET = 12;

export interface DropoutOptions {
  /** Probability of dropping an element, in [0, 1). 0 copies x exactly. */
  p: number;
  /** u32. Every dropout site of a step needs its own seed, and every step new ones. */
  seed: number;
}

export interface DropoutDispatch {
  dispatches: Dispatch[];
  /**
   * Re-seed the built dispatch for the next replay (a queue write: it applies to command
   * buffers submitted after the call, so one submit sees one seed per dispatch).
   */
  setSeed(seed: number): void;
}

/**
 * out: [...] = x: [same shape] * keep / (1 - p), keep = pcgHash(pcgHash(i) ^ seed) >= p * 2^32
 * (dropoutMaskRef computes the same mask on the CPU). out and x in different buffers.
 * The backward is this op with the same p and seed on the upstream gradient:
 * `dropout(gpu, dx, dy, { p, seed })`, re-seeded together with the forward each step.
 */
export async function dropout(gpu: Gpu, out: Tensor, x: Tensor, options: DropoutOptions): Promise<DropoutDispatch> {
  requireElementwise('dropout', [['out', out]], [['x', x]]);
  const threshold = dropoutThreshold(options.p);
  requireSeed(options.seed);
  const u = new UniformWriter()
    .u32(out.size)
    .u32(threshold)
    .f32(1 / (1 - options.p))
    .u32(options.seed);
  const params = gpu.uniform(u.bytes(), 'dropout params');
  const dispatch = await gpu.dispatch('dropout', {
    kernel: KERNEL,
    consts: { WG },
    params,
    bind: [x, out],
    groups: Math.ceil(out.size / (4 * WG)),
  });
  return {
    dispatches: [dispatch],
    setSeed(seed: number) {
      requireSeed(seed);
      gpu.device.queue.writeBuffer(params, SEED_OFFSET, Uint32Array.of(seed));
    },
  };
}
