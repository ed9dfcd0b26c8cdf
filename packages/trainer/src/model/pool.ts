// Activation buffers by name, sized to the largest shape asked for so far. Steps for different
// (batch, length) shapes share them as views at offset 0. Growing a buffer bumps `version`:
// steps built on the old buffer must be rebuilt, and the old buffer is only destroyed by
// `collect()`, once nothing recorded uses it any more.
import { type DType, type Gpu, numel, Tensor } from '@webtune/kernels';

export class ActivationPool {
  version = 0;
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly dtypes = new Map<string, DType>();
  private retired: GPUBuffer[] = [];

  constructor(private readonly gpu: Gpu) {}

  get(name: string, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    const bytes = Math.max(16, Math.ceil((numel(shape) * 4) / 16) * 16);
    let buffer = this.buffers.get(name);
    if (!buffer || buffer.size < bytes) {
      if (buffer) this.retired.push(buffer);
      buffer = this.gpu.tensor([bytes / 4], name, dtype, name.includes('logits') ? 'logits' : 'activations').buffer;
      this.buffers.set(name, buffer);
      this.dtypes.set(name, dtype);
      this.version++;
    }
    return new Tensor(buffer, shape, dtype, name);
  }

  /** Every buffer whole, as a flat tensor with its name and dtype (train/nonfinite.ts reads them all). */
  tensors(): Tensor[] {
    return [...this.buffers].map(([name, b]) => new Tensor(b, [b.size / 4], this.dtypes.get(name), name));
  }

  /** Bytes held, for the memory report. */
  get bytes(): number {
    let total = 0;
    for (const b of this.buffers.values()) total += b.size;
    return total;
  }

  /** Destroy buffers replaced by larger ones. Call when no step built before now will run again. */
  collect(): void {
    for (const b of this.retired) b.destroy();
    this.retired = [];
  }

  destroy(): void {
    this.collect();
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
    this.version++;
  }
}
