import { describe, expect, it } from 'vitest';
import { LORA_TARGETS, type LoraConfig, LoraError, type LoraTarget, loraScale, modulePath, peftKey } from '../model/lora.ts';
import type { AdapterRecord } from './db.ts';
import { adapterFiles, adapterModelCard, importAdapterFiles } from './export.ts';
import { stackAdapters, stackedRecord } from './stack.ts';

const dec = new TextDecoder();

/** Module shapes of a made-up 2-layer model: hidden 8, kv 4, intermediate 12. */
const SHAPES: Record<LoraTarget, [number, number]> = {
  q_proj: [8, 8],
  k_proj: [8, 4],
  v_proj: [8, 4],
  o_proj: [8, 8],
  gate_proj: [8, 12],
  up_proj: [8, 12],
  down_proj: [12, 8],
};
const LAYERS = 2;

let seed = 7;
function rand(): number {
  seed = (seed * 16807) % 2147483647;
  return (seed / 2147483647) * 2 - 1;
}

function adapter(id: string, lora: Partial<LoraConfig> & Pick<LoraConfig, 'r' | 'targetModules'>, extra: Partial<AdapterRecord> = {}) {
  const config: LoraConfig = { alpha: 2 * lora.r, dropout: 0, useRslora: false, ...lora };
  const tensors: AdapterRecord['tensors'] = [];
  for (let layer = 0; layer < LAYERS; layer++) {
    for (const target of config.targetModules) {
      const [inF, outF] = SHAPES[target];
      const path = modulePath(layer, target);
      tensors.push({ name: peftKey(path, 'A'), shape: [config.r, inF], data: Float32Array.from({ length: config.r * inF }, rand) });
      tensors.push({ name: peftKey(path, 'B'), shape: [outF, config.r], data: Float32Array.from({ length: outF * config.r }, rand) });
    }
  }
  const rec: AdapterRecord = {
    id,
    name: `adapter ${id}`,
    createdAt: 1,
    updatedAt: 2,
    baseModel: 'org/base',
    method: 'sft',
    parentId: null,
    lora: config,
    trainingConfig: { trainer: 'SFTTrainer', learning_rate: 0.0002 },
    metrics: [],
    tensors,
    ...extra,
  };
  return rec;
}

const tensor = (rec: { tensors: AdapterRecord['tensors'] }, name: string) => rec.tensors.find((t) => t.name === name);

/** s · B A in float64 ([out, in]), or zeros when the adapter does not target the module. */
function delta(rec: AdapterRecord, path: string, inF: number, outF: number, scale = loraScale(rec.lora)): Float64Array {
  const out = new Float64Array(outF * inF);
  const A = tensor(rec, peftKey(path, 'A'));
  const B = tensor(rec, peftKey(path, 'B'));
  if (!A || !B) return out;
  const r = A.shape[0];
  for (let o = 0; o < outF; o++)
    for (let j = 0; j < inF; j++) {
      let acc = 0;
      for (let k = 0; k < r; k++) acc += scale * B.data[o * r + k] * A.data[k * inF + j];
      out[o * inF + j] = acc;
    }
  return out;
}

/** Σ_i s_i B_i A_i, summed over the parts' ranks in stacking order (the order B'A' sums them). */
function stackDelta(recs: AdapterRecord[], path: string, inF: number, outF: number): Float64Array {
  const out = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++)
    for (let j = 0; j < inF; j++) {
      let acc = 0;
      for (const rec of recs) {
        const A = tensor(rec, peftKey(path, 'A'));
        const B = tensor(rec, peftKey(path, 'B'));
        if (!A || !B) {
          acc += 0 * rec.lora.r; // zero rows: adds exact zeros, as B'A' does
          continue;
        }
        const s = loraScale(rec.lora);
        for (let k = 0; k < rec.lora.r; k++) acc += s * B.data[o * rec.lora.r + k] * A.data[k * inF + j];
      }
      out[o * inF + j] = acc;
    }
  return out;
}

/** Every module of the stacked adapter: B'A' (scale 1) in float64. */
function stackedProduct(stacked: { lora: LoraConfig; tensors: AdapterRecord['tensors'] }, path: string, inF: number, outF: number) {
  return delta({ ...adapter('x', { r: 1, targetModules: ['q_proj'] }), lora: stacked.lora, tensors: stacked.tensors }, path, inF, outF, 1);
}

describe('stackAdapters', () => {
  it("B'A' = s1 B1 A1 + s2 B2 A2 exactly (power-of-two scales), with alpha = r and no rsLoRA", () => {
    const sft = adapter('sft', { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] }); // scale 2
    const dpo = adapter('dpo', { r: 2, alpha: 1, targetModules: ['q_proj', 'v_proj'] }, { method: 'dpo', parentId: 'sft' }); // scale 1/2
    const stacked = stackAdapters([sft, dpo]);
    expect(stacked.lora).toEqual({ r: 6, alpha: 6, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false });
    expect(loraScale(stacked.lora)).toBe(1);
    for (let layer = 0; layer < LAYERS; layer++) {
      for (const target of ['q_proj', 'v_proj'] as const) {
        const path = modulePath(layer, target);
        const [inF, outF] = SHAPES[target];
        expect(tensor(stacked, peftKey(path, 'A'))?.shape).toEqual([6, inF]);
        expect(tensor(stacked, peftKey(path, 'B'))?.shape).toEqual([outF, 6]);
        // Bit for bit: s·B is exact in float32 for s = 2 and 1/2, and both sides sum the same terms in the same order.
        expect(stackedProduct(stacked, path, inF, outF)).toEqual(stackDelta([sft, dpo], path, inF, outF));
        // And it is the sum of the two adapters' own updates.
        const sum = delta(sft, path, inF, outF).map((x, i) => x + delta(dpo, path, inF, outF)[i]);
        const got = stackedProduct(stacked, path, inF, outF);
        for (let i = 0; i < sum.length; i++) expect(Math.abs(got[i] - sum[i])).toBeLessThanOrEqual(1e-15 * (1 + Math.abs(sum[i])));
      }
    }
    // The A rows are the inputs' rows, unscaled; the B columns carry the scales.
    const path = modulePath(1, 'v_proj');
    const A = tensor(stacked, peftKey(path, 'A'))!.data;
    expect(A.subarray(0, 4 * 8)).toEqual(tensor(sft, peftKey(path, 'A'))!.data);
    expect(A.subarray(4 * 8)).toEqual(tensor(dpo, peftKey(path, 'A'))!.data);
    const B = tensor(stacked, peftKey(path, 'B'))!.data;
    const B1 = tensor(sft, peftKey(path, 'B'))!.data;
    const B2 = tensor(dpo, peftKey(path, 'B'))!.data;
    for (let o = 0; o < 4; o++) {
      for (let k = 0; k < 4; k++) expect(B[o * 6 + k]).toBe(2 * B1[o * 4 + k]);
      for (let k = 0; k < 2; k++) expect(B[o * 6 + 4 + k]).toBe(0.5 * B2[o * 2 + k]);
    }
  });

  it('is exact up to one float32 rounding of s·B for other scales (rsLoRA, alpha/r not a power of two)', () => {
    const sft = adapter('sft', { r: 2, alpha: 16, useRslora: true, targetModules: ['q_proj'] }); // 16/sqrt(2)
    const dpo = adapter('dpo', { r: 3, alpha: 5, targetModules: ['q_proj'] }); // 5/3
    const stacked = stackAdapters([sft, dpo]);
    expect(stacked.parts.map((p) => p.scale)).toEqual([16 / Math.sqrt(2), 5 / 3]);
    const [inF, outF] = SHAPES.q_proj;
    for (let layer = 0; layer < LAYERS; layer++) {
      const path = modulePath(layer, 'q_proj');
      const want = stackDelta([sft, dpo], path, inF, outF);
      const got = stackedProduct(stacked, path, inF, outF);
      // |error| <= 2^-24 · Σ_i Σ_k |s_i B_i A_i| per entry.
      const bound = stackDelta(
        [sft, dpo].map((r) => ({ ...r, tensors: r.tensors.map((t) => ({ ...t, data: t.data.map(Math.abs) })) })),
        path,
        inF,
        outF,
      );
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(2 ** -24 * bound[i] * 1.0001);
    }
  });

  it('takes the union of the target modules, with zeros where an adapter does not reach', () => {
    const sft = adapter('sft', { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj', 'up_proj'] });
    const dpo = adapter('dpo', { r: 1, alpha: 2, targetModules: ['q_proj', 'k_proj', 'down_proj'] });
    const stacked = stackAdapters([sft, dpo]);
    expect(stacked.lora.targetModules).toEqual(['q_proj', 'k_proj', 'v_proj', 'up_proj', 'down_proj']);
    expect(stacked.tensors.length).toBe(LAYERS * 5 * 2);
    // Layer order, then LORA_TARGETS order, A before B.
    const order = stacked.tensors.map((t) => t.name);
    const want: string[] = [];
    for (let l = 0; l < LAYERS; l++)
      for (const t of LORA_TARGETS.filter((x) => stacked.lora.targetModules.includes(x)))
        want.push(peftKey(modulePath(l, t), 'A'), peftKey(modulePath(l, t), 'B'));
    expect(order).toEqual(want);
    for (let layer = 0; layer < LAYERS; layer++) {
      const k = modulePath(layer, 'k_proj'); // DPO only: rows/columns 0..1 are zero
      const kA = tensor(stacked, peftKey(k, 'A'))!.data;
      const kB = tensor(stacked, peftKey(k, 'B'))!.data;
      expect([...kA.subarray(0, 2 * 8)].every((x) => x === 0)).toBe(true);
      expect(kA.subarray(2 * 8)).toEqual(tensor(dpo, peftKey(k, 'A'))!.data);
      for (let o = 0; o < 4; o++) expect([kB[o * 3], kB[o * 3 + 1]]).toEqual([0, 0]);
      const v = modulePath(layer, 'v_proj'); // SFT only: row/column 2 is zero
      const vA = tensor(stacked, peftKey(v, 'A'))!.data;
      const vB = tensor(stacked, peftKey(v, 'B'))!.data;
      expect([...vA.subarray(2 * 8)].every((x) => x === 0)).toBe(true);
      for (let o = 0; o < 4; o++) expect(vB[o * 3 + 2]).toBe(0);
      for (const target of ['q_proj', 'k_proj', 'v_proj', 'up_proj', 'down_proj'] as const) {
        const [inF, outF] = SHAPES[target];
        const path = modulePath(layer, target);
        expect(stackedProduct(stacked, path, inF, outF)).toEqual(stackDelta([sft, dpo], path, inF, outF));
      }
    }
  });

  it('stacks chains of more than two adapters', () => {
    const a = adapter('a', { r: 2, alpha: 4, targetModules: ['q_proj', 'o_proj'] });
    const b = adapter('b', { r: 3, alpha: 12, targetModules: ['o_proj', 'gate_proj'] }, { method: 'dpo', parentId: 'a' });
    const c = adapter('c', { r: 1, alpha: 0.25, targetModules: ['q_proj', 'gate_proj', 'down_proj'] }, { method: 'dpo', parentId: 'b' });
    const stacked = stackAdapters([a, b, c]);
    expect(stacked.lora.r).toBe(6);
    expect(stacked.lora.alpha).toBe(6);
    expect(stacked.parts.map((p) => [p.id, p.rows])).toEqual([
      ['a', [0, 2]],
      ['b', [2, 5]],
      ['c', [5, 6]],
    ]);
    for (let layer = 0; layer < LAYERS; layer++) {
      for (const target of stacked.lora.targetModules) {
        const [inF, outF] = SHAPES[target];
        const path = modulePath(layer, target);
        expect(stackedProduct(stacked, path, inF, outF)).toEqual(stackDelta([a, b, c], path, inF, outF));
      }
    }
    // Stacking is associative: (a + b) + c is a + b + c.
    const ab = stackAdapters([a, b]);
    const abRec = { ...a, id: 'ab', lora: ab.lora, tensors: ab.tensors };
    const again = stackAdapters([abRec, c]);
    for (let layer = 0; layer < LAYERS; layer++) {
      for (const target of stacked.lora.targetModules) {
        const [inF, outF] = SHAPES[target];
        const path = modulePath(layer, target);
        const x = stackedProduct(again, path, inF, outF);
        const y = stackedProduct(stacked, path, inF, outF);
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  it('refuses adapters that cannot be stacked, saying why', () => {
    const sft = adapter('sft', { r: 2, targetModules: ['q_proj'] });
    expect(() => stackAdapters([])).toThrow(LoraError);
    expect(() => stackAdapters([sft, adapter('o', { r: 2, targetModules: ['q_proj'] }, { baseModel: 'org/other' })])).toThrow(
      /different base models \("org\/base", "org\/other"\)/,
    );
    const missingB = adapter('m', { r: 2, targetModules: ['q_proj'] });
    missingB.tensors = missingB.tensors.filter((t) => !t.name.endsWith('layers.1.self_attn.q_proj.lora_B.weight'));
    expect(() => stackAdapters([sft, missingB])).toThrow(/module model\.layers\.1\.self_attn\.q_proj has no lora_B\.weight/);
    const wrongRank = adapter('w', { r: 2, targetModules: ['q_proj'] });
    wrongRank.lora = { ...wrongRank.lora, r: 3 };
    expect(() => stackAdapters([sft, wrongRank])).toThrow(/expected \[3, in\] and \[out, 3\] with r=3/);
    const otherModel = adapter('x', { r: 2, targetModules: ['q_proj'] });
    otherModel.tensors[0] = { ...otherModel.tensors[0], shape: [2, 4], data: new Float32Array(8) };
    otherModel.tensors[1] = { ...otherModel.tensors[1], shape: [4, 2], data: new Float32Array(8) };
    expect(() => stackAdapters([sft, otherModel])).toThrow(/not for the same model/);
    const stray = adapter('s', { r: 2, targetModules: ['q_proj'] });
    stray.tensors[0] = { ...stray.tensors[0], name: peftKey(modulePath(0, 'k_proj'), 'A') };
    expect(() => stackAdapters([stray])).toThrow(/is for k_proj, which is not among its target modules/);
  });
});

describe('stackedRecord', () => {
  const sft = adapter('sft-1', { r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] }, { name: 'Helpful SFT' });
  const dpo = adapter(
    'dpo-1',
    { r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'k_proj'] },
    {
      name: 'Polite DPO',
      method: 'dpo',
      parentId: 'sft-1',
      trainingConfig: { trainer: 'DPOTrainer', beta: 0.1, learning_rate: 5e-5, stage_one_adapter: 'sft-1' },
      metrics: [{ step: 3, loss: 0.5 }],
    },
  );

  it('exports one standalone PEFT adapter that imports back as rank r1+r2', () => {
    const { record, parts } = stackedRecord([sft, dpo]);
    expect(record.parentId).toBeNull();
    expect(record.id).toBe('dpo-1');
    expect(record.method).toBe('dpo');
    expect(record.lora).toEqual({ r: 6, alpha: 6, dropout: 0.1, targetModules: ['q_proj', 'k_proj', 'v_proj'], useRslora: false });
    expect(parts.map((p) => p.name)).toEqual(['Helpful SFT', 'Polite DPO']);
    const files = new Map(adapterFiles(record).map((f) => [f.name, f.data]));
    const imported = importAdapterFiles(files);
    expect(imported.lora).toEqual(record.lora);
    expect(JSON.parse(dec.decode(files.get('adapter_config.json')))).toMatchObject({ r: 6, lora_alpha: 6, use_rslora: false });
    for (const t of record.tensors) expect(imported.tensors.get(t.name)?.data).toEqual(t.data);
  });

  it("keeps the DPO run's training config and names the stage-one adapter", () => {
    const { record } = stackedRecord([sft, dpo]);
    expect(record.trainingConfig).toMatchObject({
      trainer: 'DPOTrainer',
      beta: 0.1,
      learning_rate: 5e-5,
      stage_one_adapter: 'sft-1',
      stage_one_adapter_name: 'Helpful SFT',
    });
    expect(record.trainingConfig.stacked_from).toEqual([
      {
        id: 'sft-1',
        name: 'Helpful SFT',
        method: 'sft',
        r: 4,
        lora_alpha: 8,
        use_rslora: false,
        target_modules: ['q_proj', 'v_proj'],
        rows: [0, 4],
      },
      {
        id: 'dpo-1',
        name: 'Polite DPO',
        method: 'dpo',
        r: 2,
        lora_alpha: 4,
        use_rslora: false,
        target_modules: ['q_proj', 'k_proj'],
        rows: [4, 6],
      },
    ]);
    // An imported DPO adapter without stage_one_adapter gets it from the chain.
    const bare = stackedRecord([sft, { ...dpo, trainingConfig: { trainer: 'DPOTrainer' } }]).record;
    expect(bare.trainingConfig.stage_one_adapter).toBe('sft-1');
    expect(dpo.trainingConfig).not.toHaveProperty('stacked_from'); // the stored record is not touched
  });

  it('writes a model card that says what it is stacked from and that it loads alone', () => {
    const { record, parts } = stackedRecord([sft, dpo]);
    const card = adapterModelCard(record, { stackedFrom: parts });
    expect(card).toContain(
      'This adapter is stacked from the SFT adapter "Helpful SFT" (sft-1) and, trained on top of it, the DPO adapter "Polite DPO" (dpo-1)',
    );
    expect(card).toContain('one exact adapter of rank 6');
    expect(card).toContain('| 1 | "Helpful SFT" (sft-1) | SFT | 0-3 | 4 | 8 | 2 | q_proj, v_proj |');
    expect(card).toContain('| 2 | "Polite DPO" (dpo-1) | DPO | 4-5 | 2 | 4 | 2 | q_proj, k_proj |');
    expect(card).toContain('r=6, lora_alpha=6');
    expect(card).toContain('PeftModel.from_pretrained(base, "path/to/this-adapter")');
    expect(card).not.toContain('merge_and_unload');
    expect(card).not.toContain('does not reproduce');
  });
});
