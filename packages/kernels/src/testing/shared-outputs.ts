// An op's outputs as views of one buffer, each at a binding-aligned offset: the GPU tests of ops that allow their
// outputs to share a buffer (dpo_loss, kto_loss) bind them this way, so that the sharing is what they test.
import type { Gpu } from '../runtime/gpu.ts';
import { BINDING_ALIGN, numel, type Tensor } from '../runtime/tensor.ts';

export interface SharedOutputs<K extends string> {
  views: Record<K, Tensor>;
  /** Reads the buffer (one host read) and frees it: each output's values. */
  readAndFree(): Promise<Record<K, Float32Array>>;
}

export function sharedOutputs<K extends string>(gpu: Gpu, shapes: Record<K, number[]>, label: string): SharedOutputs<K> {
  const align = BINDING_ALIGN / 4;
  const offsets = {} as Record<K, number>;
  let size = 0;
  const entries = Object.entries(shapes) as [K, number[]][];
  for (const [name, shape] of entries) {
    offsets[name] = size;
    size += Math.ceil(numel(shape) / align) * align;
  }
  const out = gpu.tensor([size], label);
  const views = Object.fromEntries(entries.map(([name, shape]) => [name, out.view(shape, offsets[name], name)])) as Record<K, Tensor>;
  return {
    views,
    async readAndFree() {
      const all = await gpu.read(out);
      out.buffer.destroy();
      return Object.fromEntries(entries.map(([name, shape]) => [name, all.slice(offsets[name], offsets[name] + numel(shape))])) as Record<
        K,
        Float32Array
      >;
    },
  };
}
