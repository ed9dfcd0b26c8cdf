// Activation buffers by name, sized to the largest shape asked for so far. Steps for different
// (batch, length) shapes share them as views at offset 0. Growing a buffer bumps `version`:
// steps built on the old buffer must be rebuilt, and the old buffer is only destroyed by
// `collect()`, once nothing recorded uses it any more.
import { BINDING_ALIGN, type DType, type Gpu, numel, Tensor } from '@webtune/kernels';

/** WebGPU's default maxBufferSize: a buffer of slots (ActivationPool.slots) is at most this large on any adapter. */
export const SLOTS_BUFFER_BYTES = 256 * 1024 * 1024;

/** The buffers a step asks for by name (its compile pass's pool: ActivationPool.wanted). */
export type PoolRequest = ReadonlyMap<string, { bytes: number; dtype: DType }>;

export class ActivationPool {
  version = 0;
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly dtypes = new Map<string, DType>();
  private retired: GPUBuffer[] = [];
  /** Buffers of slots by name: each slot's elements (its stride) and label, as the last slots() call laid them out. */
  private readonly layouts = new Map<string, { stride: number; labels: string[] }>();

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

  /**
   * Every buffer of `request` this pool does not hold at its size, made before a step is built (Model.step, from the
   * step's compile pass), so that the build finds them all and is recorded once, not a second time because the pool
   * grew under it (the first recording's uniforms and bind groups then wait for the collector).
   */
  reserve(request: PoolRequest): void {
    for (const [name, r] of request) this.get(name, [r.bytes / 4], r.dtype);
  }

  /** What this pool was asked for, by name: a compile pass's pool tells the real one what to reserve. */
  get wanted(): PoolRequest {
    return new Map([...this.buffers].map(([name, b]) => [name, { bytes: b.size, dtype: this.dtypes.get(name) ?? 'f32' }]));
  }

  /**
   * `labels.length` tensors of `shape` as slots of one buffer (as few as fit in SLOTS_BUFFER_BYTES each), every slot at a
   * multiple of BINDING_ALIGN, for many same-shaped tensors alive at once (each layer's saved input). Not a buffer each:
   * WebGPU implementations suballocate small buffers in power-of-two blocks (Dawn's Vulkan backend: every buffer under
   * 4 MiB, from 8 MiB heaps), so SmolLM2's 31 residuals of 1,024 x 576 float32 (2.25 MiB) held 4 MiB each.
   */
  slots(name: string, shape: readonly number[], labels: readonly string[], dtype: DType = 'f32'): Tensor[] {
    const align = BINDING_ALIGN / 4;
    const stride = Math.ceil(numel(shape) / align) * align;
    const perBuffer = Math.max(1, Math.floor(SLOTS_BUFFER_BYTES / (4 * stride)));
    const out: Tensor[] = [];
    for (let first = 0; first < labels.length; first += perBuffer) {
      const mine = labels.slice(first, first + perBuffer);
      const group = `${name} ${first / perBuffer}`;
      const buffer = this.get(group, [mine.length * stride], dtype);
      this.layouts.set(group, { stride, labels: mine });
      out.push(...mine.map((label, i) => buffer.view(shape, i * stride, label)));
    }
    return out;
  }

  /**
   * Every buffer whole, as a flat tensor with its name and dtype, a buffer of slots as one per slot with the slot's label
   * (train/nonfinite.ts reads them all and names the one holding a non-finite value).
   */
  tensors(): Tensor[] {
    return [...this.buffers].flatMap(([name, b]) => {
      const whole = new Tensor(b, [b.size / 4], this.dtypes.get(name), name);
      const layout = this.layouts.get(name);
      return layout ? layout.labels.map((label, i) => whole.view([layout.stride], i * layout.stride, label)) : [whole];
    });
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
    this.layouts.clear();
    this.version++;
  }
}
