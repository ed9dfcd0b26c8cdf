import { describe, expect, it } from 'vitest';
import { overlaps, requireDisjoint, requireFinite, requireSameShape, requireShapes } from './checks.ts';
import { Tensor } from './tensor.ts';

const buffer = {} as GPUBuffer;
const fake = (shape: number[], label: string, offset = 0, buf = buffer) => new Tensor(buf, shape, 'f32', label, offset);

describe('overlaps', () => {
  it('compares byte ranges within one buffer', () => {
    expect(overlaps(fake([100], 'a'), fake([100], 'b', 256))).toBe(true); // bytes [0, 400) and [256, 656)
    expect(overlaps(fake([64], 'a'), fake([64], 'b', 256))).toBe(false); // [0, 256) and [256, 512)
    expect(overlaps(fake([64], 'a'), fake([64], 'b', 0, {} as GPUBuffer))).toBe(false);
    expect(overlaps(fake([0], 'a'), fake([64], 'b'))).toBe(false);
  });
});

// WebGPU's rule, as checks.gpu.test.ts observes it in Chromium.
describe('requireDisjoint', () => {
  it('lets written tensors be disjoint views of one buffer, but not overlap', () => {
    expect(() =>
      requireDisjoint(
        'op',
        [
          ['a', fake([64], 'a')],
          ['b', fake([64], 'b', 256)],
        ],
        [],
      ),
    ).not.toThrow();
    expect(() =>
      requireDisjoint(
        'op',
        [
          ['a', fake([100], 'a')],
          ['b', fake([64], 'b', 256)],
        ],
        [],
      ),
    ).toThrow('op: a must not overlap b; got a a[100], b b[64]');
  });

  it('keeps a read tensor out of every written tensor’s buffer, whatever the ranges', () => {
    expect(() => requireDisjoint('op', [['out', fake([64], 'o')]], [['x', fake([64], 'x', 256)]])).toThrow(
      'op: out must not share a buffer with x; got out o[64], x x[64]',
    );
    expect(() => requireDisjoint('op', [['out', fake([64], 'o')]], [['x', fake([64], 'x', 0, {} as GPUBuffer)]])).not.toThrow();
    // Read tensors may share anything with each other.
    const x = fake([64], 'x', 0, {} as GPUBuffer);
    expect(() =>
      requireDisjoint(
        'op',
        [['out', fake([64], 'o')]],
        [
          ['x', x],
          ['y', x],
        ],
      ),
    ).not.toThrow();
  });
});

describe('shape checks', () => {
  it('name the op, the tensors and what implies the shape', () => {
    expect(() =>
      requireSameShape('op', [
        ['a', fake([2, 3], 'p')],
        ['b', fake([3, 2], 'q')],
      ]),
    ).toThrow('op: a, b must have the same shape; got a p[2, 3], b q[3, 2]');
    expect(() => requireShapes('op', [['w', fake([5], 'norm'), [6]]], 'x h[4, 6]')).toThrow(
      'op: w must be [6] for x h[4, 6]; got w norm[5]',
    );
    expect(() => requireShapes('op', [['ids', fake([4], 'ids'), [4], 'u32']])).toThrow('op: ids must be u32, got f32');
    expect(() => requireFinite('op', 'lr', Number.NaN)).toThrow('op: lr must be a finite number, got NaN');
  });
});
