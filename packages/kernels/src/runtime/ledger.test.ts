import { describe, expect, it, vi } from 'vitest';
import { Gpu } from './gpu.ts';
import { countsBetween, GpuLedger } from './ledger.ts';

/** Just what the ledger uses of a buffer: its size and destroy(). */
const buffer = (size: number) => {
  const b = { size, destroyed: 0, destroy: () => b.destroyed++ };
  return b as unknown as GPUBuffer & { destroyed: number };
};

describe('GpuLedger', () => {
  it('counts live bytes by kind from track to the first destroy, and the peaks', () => {
    const ledger = new GpuLedger();
    const w = ledger.track(buffer(1000), 'weights');
    const a = ledger.track(buffer(300), 'activations');
    const l = ledger.track(buffer(200), 'logits');
    expect(ledger.memory).toEqual({
      current: { weights: 1000, activations: 300, lora: 0, logits: 200, other: 0 },
      currentTotal: 1500,
      peak: { weights: 1000, activations: 300, lora: 0, logits: 200, other: 0 },
      peakTotal: 1500,
      peakAdded: 1500,
      added: 1500,
    });
    l.destroy();
    l.destroy(); // a second destroy frees nothing more, and still reaches the buffer
    expect((l as unknown as { destroyed: number }).destroyed).toBe(2);
    a.destroy();
    ledger.track(buffer(100), 'lora');
    const m = ledger.memory;
    expect(m.current).toEqual({ weights: 1000, activations: 0, lora: 100, logits: 0, other: 0 });
    expect(m.currentTotal).toBe(1100);
    expect(m.peakTotal).toBe(1500);
    expect(m.peak.logits).toBe(200);
    w.destroy();
    expect(ledger.memory.currentTotal).toBe(100);
  });

  it('resetPeak measures peaks from what is live now', () => {
    const ledger = new GpuLedger();
    const big = ledger.track(buffer(5000), 'activations');
    ledger.track(buffer(64), 'other');
    big.destroy();
    ledger.resetPeak();
    expect(ledger.memory.peakTotal).toBe(64);
    expect(ledger.memory.peak.activations).toBe(0);
    const a = ledger.track(buffer(700), 'activations');
    a.destroy();
    ledger.track(buffer(300), 'activations');
    expect(ledger.memory.peakTotal).toBe(764);
    expect(ledger.memory.peak.activations).toBe(700);
    expect(ledger.memory.current.activations).toBe(300);
  });

  it('peakAdded counts only buffers tracked since resetPeak, whatever older ones are freed meanwhile', () => {
    const ledger = new GpuLedger();
    const old = ledger.track(buffer(1000), 'other'); // e.g. a dropped step's uniforms, collected later
    ledger.resetPeak();
    expect(ledger.memory.peakAdded).toBe(0);
    const a = ledger.track(buffer(400), 'activations');
    old.destroy();
    ledger.track(buffer(300), 'lora');
    expect(ledger.memory.peakTotal).toBe(1400); // lowered by the old buffer's release
    expect(ledger.memory.peakAdded).toBe(700);
    a.destroy();
    ledger.track(buffer(200), 'other');
    expect(ledger.memory.peakAdded).toBe(700);
    expect(ledger.memory.added).toBe(500);
    ledger.resetPeak();
    expect(ledger.memory).toMatchObject({ peakAdded: 0, added: 0 });
  });

  it('counts dispatches, submits and host reads; countsBetween subtracts', () => {
    const ledger = new GpuLedger();
    const before = ledger.countsSoFar;
    ledger.dispatched(3);
    ledger.dispatched();
    ledger.submitted();
    ledger.hostRead();
    expect(countsBetween(before, ledger.countsSoFar)).toEqual({ dispatches: 4, submits: 1, hostReads: 1 });
  });
});

/** A device that records what Gpu asks of it: buffers, encoders, submits, mapping. */
function fakeDevice() {
  const commands: string[] = [];
  const device = {
    limits: { maxComputeWorkgroupsPerDimension: 65535 },
    features: new Set(),
    lost: new Promise(() => {}),
    addEventListener: () => {},
    createBuffer: ({ size }: { size: number }) => ({
      size,
      destroy: () => commands.push('destroy'),
      mapAsync: async () => {},
      getMappedRange: () => new ArrayBuffer(size),
    }),
    createCommandEncoder: () => ({
      beginComputePass: () => ({
        setPipeline: () => {},
        setBindGroup: () => {},
        dispatchWorkgroups: () => commands.push('dispatch'),
        end: () => {},
      }),
      copyBufferToBuffer: () => {},
      finish: () => ({}),
    }),
    queue: { submit: () => commands.push('submit'), writeBuffer: () => {} },
  };
  return { device: device as unknown as GPUDevice, commands };
}

describe('Gpu ledger', () => {
  // Node has no WebGPU globals; the flags' values do not matter to a fake device.
  vi.stubGlobal('GPUBufferUsage', { STORAGE: 1, COPY_SRC: 2, COPY_DST: 4, MAP_READ: 8, UNIFORM: 16 });
  vi.stubGlobal('GPUMapMode', { READ: 1 });

  it('counts tensors by kind, uniforms and read staging as other, and every dispatch, submit and read', async () => {
    const { device } = fakeDevice();
    const gpu = new Gpu(device);
    const w = gpu.upload(new Float32Array(10), [10], 'w', 'weights'); // 40 bytes, rounded up to 48
    const x = gpu.tensor([4], 'x'); // 16 bytes, kind other by default
    expect(gpu.ledger.memory.current).toEqual({ weights: 48, activations: 0, lora: 0, logits: 0, other: 16 });
    const dispatch = { label: 'd', pipeline: {}, bindGroup: {}, workgroups: [1, 1, 1] } as unknown as Parameters<Gpu['run']>[0];
    gpu.run(dispatch, dispatch);
    await gpu.read(x);
    // The read's staging buffer is gone again; the peak saw it.
    expect(gpu.ledger.memory.currentTotal).toBe(64);
    expect(gpu.ledger.memory.peakTotal).toBe(80);
    expect(gpu.ledger.countsSoFar).toEqual({ dispatches: 2, submits: 2, hostReads: 1 });
    w.buffer.destroy();
    expect(gpu.ledger.memory.current.weights).toBe(0);
    // A second Gpu on the same device shares its ledger.
    expect(new Gpu(device).ledger).toBe(gpu.ledger);
  });
});
