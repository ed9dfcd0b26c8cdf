import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../../../../packages/kernels/bench/rows.ts';
import { kernelTable, targetLines, trainingTable } from './bench.ts';

const row = (impl: string, ms: number, extra: Partial<BenchRow> = {}): BenchRow => ({
  suite: 'matmul',
  case: 'NT 512',
  impl,
  ms,
  reps: 3,
  metric: 'GFLOP/s',
  value: 268 / ms,
  ...extra,
});

describe('bench output', () => {
  it('prints a PASS or FAIL line per target, for information off SwiftShader', () => {
    const targets = [
      { what: 'square 256: speed over tfjs', value: 2.5, min: 2 },
      { what: 'NT 512: time over NN', value: 1.6, max: 1.5 },
    ];
    expect(targetLines(targets, 'google / swiftshader')).toBe(
      'targets\nPASS  square 256: speed over tfjs: 2.50 (target >= 2)\nFAIL  NT 512: time over NN: 1.60 (target <= 1.5)',
    );
    expect(targetLines(targets.slice(0, 1), 'nvidia / ampere').split('\n')[0]).toBe(
      'targets (set on SwiftShader; on nvidia / ampere for information)',
    );
  });

  it('adds the vs NN column, and a fraction of the fp32 peak when given one', () => {
    const rows = [row('webtune', 1, { vsTfjs: 2, vsNaive: 4, vsNN: 1.25 }), row('tfjs-webgpu', 2)];
    const [header, , line] = kernelTable(rows, 1000).split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['suite', 'case', 'unit', 'webtune', 'tfjs-webgpu', 'x tfjs', 'x naive', 'vs NN', 'of peak']);
    expect(line.split(/\s{2,}/)).toEqual(['matmul', 'NT 512', 'GFLOP/s', '268', '134', '2.00', '4.00', '1.25', '0.268']);
    expect(kernelTable(rows).split('\n')[0]).not.toContain('of peak');
  });

  it('prints each training step peak GPU megabytes and its dispatches, submits and host reads', () => {
    const perStep = { dispatches: 412, submits: 5, hostReads: 2 };
    const [header, , line] = trainingTable([
      { case: 'DPO', msPerStep: 100, tokensPerSecond: 2560, tokensPerStep: 256, flopsPerStep: 1e9, peakGpuBytes: 123_400_000, perStep },
    ]).split('\n');
    expect(header.split(/\s{2,}/).slice(-4)).toEqual(['peak GPU MB', 'dispatches', 'submits', 'host reads']);
    expect(
      line
        .trimEnd()
        .split(/\s{2,}/)
        .slice(-4),
    ).toEqual(['123', '412', '5', '2']);
  });
});
