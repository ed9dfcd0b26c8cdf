// What a device holds and how often the host talks to it: live GPU bytes by kind (current and
// peak), and the dispatches, submits and host reads issued. One ledger per GPUDevice, shared by
// every Gpu wrapping it. Buffers are counted from creation until their first destroy(): the
// ledger wraps each buffer's destroy, so every existing `t.buffer.destroy()` is counted as is. A
// buffer dropped without destroy() (a dispatch's small uniform) is counted until it is collected.

/** What a buffer is for: the memory report's rows. */
export type MemoryKind = 'weights' | 'activations' | 'lora' | 'logits' | 'other';

export const MEMORY_KINDS: readonly MemoryKind[] = ['weights', 'activations', 'lora', 'logits', 'other'];

export type BytesByKind = Record<MemoryKind, number>;

/** The host's conversations with the GPU, counted since the ledger began. */
export interface GpuCounts {
  /** Compute dispatches recorded (dispatchWorkgroups calls). */
  dispatches: number;
  /** queue.submit calls (each Recorder.submit, and each read's copy). */
  submits: number;
  /** Buffers mapped back to the host (Gpu.read): each waits for the GPU. */
  hostReads: number;
}

export interface MemoryReport {
  /** Live bytes now, by kind. */
  current: BytesByKind;
  /** Live bytes now, all kinds. */
  currentTotal: number;
  /** Most live bytes of each kind at any moment since the last resetPeak (each kind's own maximum). */
  peak: BytesByKind;
  /** Most live bytes of all kinds together at any moment since the last resetPeak. */
  peakTotal: number;
  /**
   * Most live bytes, all kinds, of the buffers tracked since the last resetPeak: what a stretch of work added at its
   * height, whatever older buffers were freed meanwhile. Unlike peakTotal it does not depend on when the collector
   * releases uniforms dropped before the reset.
   */
  peakAdded: number;
  /** Live bytes now of the buffers tracked since the last resetPeak. */
  added: number;
}

const zeros = (): BytesByKind => ({ weights: 0, activations: 0, lora: 0, logits: 0, other: 0 });

interface Tracked {
  kind: MemoryKind;
  bytes: number;
  live: boolean;
  /** Which resetPeak period tracked it. */
  period: number;
}

export class GpuLedger {
  /** Releases the bytes of buffers collected without destroy(). */
  private readonly collected = new FinalizationRegistry<Tracked>((t) => this.release(t));
  private readonly current = zeros();
  private peak = zeros();
  private currentTotal = 0;
  private peakTotal = 0;
  private period = 0;
  private added = 0;
  private peakAdded = 0;
  private readonly counts: GpuCounts = { dispatches: 0, submits: 0, hostReads: 0 };

  /** Count `buffer` as `kind` until its first destroy(); returns it. */
  track(buffer: GPUBuffer, kind: MemoryKind): GPUBuffer {
    const tracked: Tracked = { kind, bytes: buffer.size, live: true, period: this.period };
    this.add(tracked, tracked.bytes);
    this.collected.register(buffer, tracked);
    const destroy = buffer.destroy.bind(buffer);
    buffer.destroy = () => {
      this.release(tracked);
      destroy();
    };
    return buffer;
  }

  private release(t: Tracked): void {
    if (t.live) this.add(t, -t.bytes);
    t.live = false;
  }

  dispatched(n = 1): void {
    this.counts.dispatches += n;
  }

  submitted(): void {
    this.counts.submits++;
  }

  hostRead(): void {
    this.counts.hostReads++;
  }

  /** The counts so far (a copy: subtract two to count a stretch of work). */
  get countsSoFar(): GpuCounts {
    return { ...this.counts };
  }

  get memory(): MemoryReport {
    const { currentTotal, peakTotal, peakAdded, added } = this;
    return { current: { ...this.current }, currentTotal, peak: { ...this.peak }, peakTotal, peakAdded, added };
  }

  /** Start measuring peaks from now: they become what is live now. */
  resetPeak(): void {
    this.peak = { ...this.current };
    this.peakTotal = this.currentTotal;
    this.period++;
    this.added = 0;
    this.peakAdded = 0;
  }

  private add({ kind, period }: Tracked, bytes: number): void {
    if (period === this.period) {
      this.added += bytes;
      this.peakAdded = Math.max(this.peakAdded, this.added);
    }
    this.current[kind] += bytes;
    this.currentTotal += bytes;
    this.peak[kind] = Math.max(this.peak[kind], this.current[kind]);
    this.peakTotal = Math.max(this.peakTotal, this.currentTotal);
  }
}

/** `after - before`, count by count. */
export function countsBetween(before: GpuCounts, after: GpuCounts): GpuCounts {
  return {
    dispatches: after.dispatches - before.dispatches,
    submits: after.submits - before.submits,
    hostReads: after.hostReads - before.hostReads,
  };
}
