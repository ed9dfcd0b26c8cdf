// Stacked adapters -> one exact PEFT adapter (DESIGN.md, "Two stages"). A DPO adapter trained on top of an SFT
// adapter runs as base + s1·B1·A1 + s2·B2·A2 on every targeted projection. Concatenating the A rows and the scaled
// B columns,
//   A' = [A1; A2]  [r1+r2, in]        B' = [s1·B1, s2·B2]  [out, r1+r2]
// gives B'·A' = s1·B1·A1 + s2·B2·A2, so with lora_alpha' = r' (scale 1, no rsLoRA) the one adapter reproduces the
// stack on the plain base model. A module only some adapters target gets zeros in the others' rows and columns.
// Exact up to one float32 rounding of each s_i·B_i entry (none at all when s_i is a power of two). Pure: no GPU.
import { LORA_TARGETS, type LoraConfig, LoraError, type LoraTarget, loraScale, modulePath, peftKey } from '../model/lora.ts';
import type { AdapterRecord, AdapterTensor } from './db.ts';

/** What stacking needs of each adapter. */
export type StackInput = Pick<AdapterRecord, 'id' | 'name' | 'method' | 'baseModel' | 'lora' | 'tensors'>;

/** Where one input adapter sits in the stacked one. */
export interface StackPart {
  id: string;
  name: string;
  method: AdapterRecord['method'];
  r: number;
  alpha: number;
  useRslora: boolean;
  /** The scale folded into its B columns. */
  scale: number;
  targetModules: LoraTarget[];
  /** Its rows of A' and columns of B': [start, end). */
  rows: [number, number];
}

export interface StackedAdapter {
  lora: LoraConfig;
  /** PEFT tensors, modules in layer order then LORA_TARGETS order, A before B. */
  tensors: AdapterTensor[];
  parts: StackPart[];
}

const PEFT_KEY = /^base_model\.model\.(model\.layers\.(\d+)\.(?:self_attn|mlp)\.([a-z_]+))\.lora_([AB])\.weight$/;

export interface Module {
  path: string;
  layer: number;
  target: LoraTarget;
  inF: number;
  outF: number;
}

/** One adapter's A and B per module (by HF module path), checked against its config. */
export function adapterModules(rec: StackInput): Map<string, { module: Module; A: Float32Array; B: Float32Array }> {
  const what = `adapter "${rec.name}" (${rec.id})`;
  const { r } = rec.lora;
  const halves = new Map<string, { A?: AdapterTensor; B?: AdapterTensor; layer: number; target: LoraTarget }>();
  for (const t of rec.tensors) {
    const m = PEFT_KEY.exec(t.name);
    const target = m?.[3] as LoraTarget | undefined;
    if (!m || !target || !LORA_TARGETS.includes(target) || modulePath(Number(m[2]), target) !== m[1])
      throw new LoraError(`${what}: tensor "${t.name}" is not a LoRA weight webtune can stack`);
    if (!rec.lora.targetModules.includes(target))
      throw new LoraError(`${what}: tensor "${t.name}" is for ${target}, which is not among its target modules`);
    const entry = halves.get(m[1]) ?? { layer: Number(m[2]), target };
    entry[m[4] as 'A' | 'B'] = t;
    halves.set(m[1], entry);
  }
  if (halves.size === 0) throw new LoraError(`${what} has no tensors`);
  const out = new Map<string, { module: Module; A: Float32Array; B: Float32Array }>();
  for (const [path, { A, B, layer, target }] of halves) {
    if (!A || !B) throw new LoraError(`${what}: module ${path} has no lora_${A ? 'B' : 'A'}.weight`);
    const okA = A.shape.length === 2 && A.shape[0] === r && A.data.length === A.shape[0] * A.shape[1];
    const okB = B.shape.length === 2 && B.shape[1] === r && B.data.length === B.shape[0] * B.shape[1];
    if (!okA || !okB)
      throw new LoraError(
        `${what}: module ${path} has lora_A [${A.shape}] and lora_B [${B.shape}], expected [${r}, in] and [out, ${r}] with r=${r}`,
      );
    out.set(path, { module: { path, layer, target, inF: A.shape[1], outF: B.shape[0] }, A: A.data, B: B.data });
  }
  return out;
}

/**
 * One adapter equivalent to applying `records` together, base first (e.g. [sft, dpo], or a longer chain). Every
 * record must be for the same base model. The result has r = Σ r_i, lora_alpha = r (scale 1), no rsLoRA, the
 * union of the target modules, and the top adapter's dropout (it only matters if someone trains on it further).
 */
export function stackAdapters(records: StackInput[]): StackedAdapter {
  if (records.length === 0) throw new LoraError('stackAdapters: no adapters to stack');
  const bases = [...new Set(records.map((r) => r.baseModel).filter((b) => b !== ''))];
  if (bases.length > 1)
    throw new LoraError(`cannot stack adapters of different base models (${bases.map((b) => JSON.stringify(b)).join(', ')})`);
  const perRecord = records.map(adapterModules);
  const modules = new Map<string, Module>();
  for (const [i, mods] of perRecord.entries()) {
    for (const { module } of mods.values()) {
      const seen = modules.get(module.path);
      if (seen && (seen.inF !== module.inF || seen.outF !== module.outF))
        throw new LoraError(
          `adapter "${records[i].name}" (${records[i].id}): module ${module.path} is [out ${module.outF}, in ${module.inF}], ` +
            `but an adapter below it has [out ${seen.outF}, in ${seen.inF}]: they are not for the same model`,
        );
      modules.set(module.path, seen ?? module);
    }
  }
  const parts: StackPart[] = [];
  let rows = 0;
  for (const rec of records) {
    const { r, alpha, useRslora, targetModules } = rec.lora;
    parts.push({
      id: rec.id,
      name: rec.name,
      method: rec.method,
      r,
      alpha,
      useRslora,
      scale: loraScale(rec.lora),
      targetModules: [...targetModules],
      rows: [rows, rows + r],
    });
    rows += r;
  }
  const R = rows;
  const ordered = [...modules.values()].sort(
    (a, b) => a.layer - b.layer || LORA_TARGETS.indexOf(a.target) - LORA_TARGETS.indexOf(b.target),
  );
  const tensors: AdapterTensor[] = [];
  for (const m of ordered) {
    const A = new Float32Array(R * m.inF);
    const B = new Float32Array(m.outF * R);
    for (const [i, part] of parts.entries()) {
      const own = perRecord[i].get(m.path);
      if (!own) continue; // not targeted by this adapter: its rows and columns stay zero
      const [start] = part.rows;
      A.set(own.A, start * m.inF); // rows start..start+r of A', row-major
      for (let o = 0; o < m.outF; o++) for (let k = 0; k < part.r; k++) B[o * R + start + k] = part.scale * own.B[o * part.r + k];
    }
    tensors.push({ name: peftKey(m.path, 'A'), shape: [R, m.inF], data: A });
    tensors.push({ name: peftKey(m.path, 'B'), shape: [m.outF, R], data: B });
  }
  const targetModules = LORA_TARGETS.filter((t) => records.some((rec) => rec.lora.targetModules.includes(t)));
  const top = records[records.length - 1];
  return { lora: { r: R, alpha: R, dropout: top.lora.dropout, targetModules, useRslora: false }, tensors, parts };
}

/**
 * The record to export for an adapter trained on top of others: `chain` is the adapter and its ancestors, base first
 * (chain.at(-1) is the adapter exported). Its metadata and training config are the top adapter's (the config names
 * the stage-one adapter it was trained on); its tensors are the stacked ones, and it has no parent: it stands alone
 * on the base model.
 */
export function stackedRecord(chain: AdapterRecord[]): { record: AdapterRecord; parts: StackPart[] } {
  const { lora, tensors, parts } = stackAdapters(chain);
  const top = chain[chain.length - 1];
  const parent = chain.length > 1 ? chain[chain.length - 2] : undefined;
  const trainingConfig: Record<string, unknown> = { ...top.trainingConfig };
  if (parent) {
    trainingConfig.stage_one_adapter ??= parent.id;
    trainingConfig.stage_one_adapter_name = parent.name;
  }
  trainingConfig.stacked_from = parts.map((p) => ({
    id: p.id,
    name: p.name,
    method: p.method,
    r: p.r,
    lora_alpha: p.alpha,
    use_rslora: p.useRslora,
    target_modules: p.targetModules,
    rows: p.rows,
  }));
  const baseModel = top.baseModel || chain.find((c) => c.baseModel)?.baseModel || '';
  return { record: { ...top, baseModel, parentId: null, lora, tensors, trainingConfig }, parts };
}
