import { describe, expect, it } from 'vitest';
import { Gpu } from './gpu.ts';

/** Just what the constructor and grid() use of a device. */
const device = (maxComputeWorkgroupsPerDimension: number) =>
  ({
    limits: { maxComputeWorkgroupsPerDimension },
    features: new Set(),
    lost: new Promise(() => {}),
    addEventListener: () => {},
  }) as unknown as GPUDevice;

describe('grid', () => {
  it('folds past the device limit into rows of equal length', () => {
    const gpu = new Gpu(device(65535));
    expect(gpu.grid(0)).toEqual([1, 1, 1]);
    expect(gpu.grid(65535)).toEqual([65535, 1, 1]);
    expect(gpu.grid(65536)).toEqual([32768, 2, 1]);
  });

  it('folds at maxWorkgroupsPerDimension instead, clamped to the device limit', () => {
    const gpu = new Gpu(device(65535), { maxWorkgroupsPerDimension: 3 });
    expect(gpu.grid(3)).toEqual([3, 1, 1]);
    expect(gpu.grid(4)).toEqual([2, 2, 1]);
    expect(gpu.grid(7)).toEqual([3, 3, 1]); // 2 spare workgroups return at once
    expect(gpu.grid(9)).toEqual([3, 3, 1]);
    expect(() => gpu.grid(10)).toThrow('10 workgroups do not fit a 3 x 3 grid');
    expect(new Gpu(device(8), { maxWorkgroupsPerDimension: 100 }).maxWorkgroupsPerDimension).toBe(8);
    expect(() => new Gpu(device(8), { maxWorkgroupsPerDimension: 0 })).toThrow(
      'maxWorkgroupsPerDimension must be a positive integer, got 0',
    );
  });
});
