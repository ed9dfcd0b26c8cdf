import { describe, expect, it } from 'vitest';
import type { BenchRow } from '../../../../packages/kernels/bench/rows.ts';
import { REAL_SHAPES, randomCheckpoint } from '../../../../packages/trainer/bench/real-shapes.ts';
import { expectedTensors, parseModelConfig } from '../../../../packages/trainer/src/model/config.ts';
import { readSafetensorsHeader } from '../../../../packages/trainer/src/model/weight-file.ts';
import { kernelTable, run, targetLines, trainingTable } from './bench.ts';

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
    const rows = [row('webtune', 1, { vsTfjs: 2, vsJax: 3, vsNaive: 4, vsNN: 1.25 }), row('tfjs-webgpu', 2), row('jax-js', 3)];
    const [header, , line] = kernelTable(rows, 1000).split('\n');
    expect(header.split(/\s{2,}/)).toEqual([
      ...['suite', 'case', 'unit', 'webtune', 'tfjs-webgpu', 'jax-js'],
      ...['x tfjs', 'x jax-js', 'x naive', 'vs NN', 'of peak'],
    ]);
    expect(line.split(/\s{2,}/)).toEqual(['matmul', 'NT 512', 'GFLOP/s', '268', '134', '89.3', '2.00', '3.00', '4.00', '1.25', '0.268']);
    expect(kernelTable(rows).split('\n')[0]).not.toContain('of peak');
    expect(kernelTable(rows.slice(0, 2)).split('\n')[0]).not.toContain('x jax-js'); // the bandwidth suite has no jax-js rows
  });

  it('shows a peer that did not run as a skipped cell, and why once under the table', () => {
    const why = 'not run on Dawn in Node';
    const skipped = { ms: Number.NaN, value: Number.NaN, skipped: why };
    const rows = [
      row('webtune', 1),
      row('jax-js', 0, skipped),
      { ...row('webtune', 1), case: 'NN 512' },
      { ...row('jax-js', 0, skipped), case: 'NN 512' },
    ];
    const lines = kernelTable(rows).split('\n');
    expect(lines[2].split(/\s{2,}/).slice(3, 5)).toEqual(['268', 'skipped']);
    expect(lines.slice(4)).toEqual([`jax-js skipped: ${why}`]);
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

describe('bench --runtime', () => {
  it('names the runtimes it knows when given another', async () => {
    await expect(run(['--runtime', 'node'])).rejects.toThrow('--runtime must be browser or dawn (got "node")');
    // --out is checked before anything runs: a folder in the way is named at once, not after minutes of timing.
    await expect(run(['--out', import.meta.dirname])).rejects.toThrow(
      `--out ${import.meta.dirname} is a folder; give the file to write, or another name`,
    );
  });
});

describe('bench --model', () => {
  it('names the shapes it knows when given another, and refuses a non-training --only', async () => {
    await expect(run(['--model', 'gpt-2'])).rejects.toThrow(
      '--model must be one of smollm2-135m, qwen2.5-0.5b, llama-3.2-1b, qwen3-0.6b, gemma3-270m (got "gpt-2")',
    );
    await expect(run(['--model', 'smollm2-135m', '--only', 'matmul'])).rejects.toThrow(
      '--model times training steps: give it without --only matmul',
    );
  });

  it('takes --batch-size and --max-length only with a --model, as whole numbers', async () => {
    await expect(run(['--batch-size', '4'])).rejects.toThrow('--batch-size sizes the --model steps: give a --model too');
    await expect(run(['--only', 'training', '--max-length', '512'])).rejects.toThrow(
      '--max-length sizes the --model steps: give a --model too',
    );
    await expect(run(['--model', 'smollm2-135m', '--batch-size', '2.5'])).rejects.toThrow('--batch-size must be a whole number (got 2.5)');
    await expect(run(['--model', 'smollm2-135m', '--max-length', '4'])).rejects.toThrow('--max-length must be between 8 and 32768 (got 4)');
  });

  it('builds a random bf16 checkpoint of the real shape, generated as it is read: the same bytes by any range', async () => {
    const files = await randomCheckpoint(REAL_SHAPES['smollm2-135m']);
    const file = files.get('model.safetensors');
    if (!file) throw new Error(`files ${[...files.keys()]}`);
    const header = await readSafetensorsHeader('model.safetensors', file);
    const config = parseModelConfig(JSON.stringify(REAL_SHAPES['smollm2-135m']));
    const shapes = [...expectedTensors(config)];
    expect([...header.tensors.values()].map((t) => [t.name, t.shape, t.dtype])).toEqual(shapes.map(([n, s]) => [n, s, 'BF16']));
    const params = shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
    expect(params).toBe(134_515_008); // SmolLM2-135M, tied embedding
    expect(file.size).toBe(header.dataOffset + 2 * params);
    const q = header.tensors.get('model.layers.3.self_attn.q_proj.weight');
    const norm = header.tensors.get('model.layers.3.input_layernorm.weight');
    if (!q || !norm) throw new Error('tensors missing');
    const at = header.dataOffset + q.begin;
    const whole = await file.read(at, at + 4 * 576 * 2, 'rows 0-3');
    // Odd byte bounds across rows read the same bytes as the whole.
    const parts = [await file.read(at, at + 1001, 'a'), await file.read(at + 1001, at + 4 * 576 * 2, 'b')];
    expect(Buffer.concat(parts).equals(Buffer.from(whole))).toBe(true);
    const words = new Uint16Array(whole.slice().buffer);
    expect(new Set(words).size).toBeGreaterThan(100); // random values, not one
    const n = await file.read(header.dataOffset + norm.begin, header.dataOffset + norm.end, 'norm');
    expect(new Set(new Uint16Array(n.slice().buffer))).toEqual(new Set([0x3f80])); // bf16 1.0
  });

  it('splits a checkpoint past 2GB into shards with their index, as save_pretrained does', async () => {
    const files = await randomCheckpoint(REAL_SHAPES['llama-3.2-1b']);
    expect([...files.keys()]).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
  });
});
