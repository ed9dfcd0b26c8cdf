// The adapter shelf: adapters kept in the store, uploaded to the GPU on first use for the loaded model, applied
// with the adapters they were trained on top of (their chain, base first), listed, renamed, deleted, exported as
// PEFT folders and imported from them.
import type { Gpu } from '@webtune/kernels';
import type { AdapterFile, AdapterSummary, ExportOptions } from '../api.ts';
import type { ModelConfig } from '../model/config.ts';
import { LoraAdapter, type PeftTensors } from '../model/lora.ts';
import type { AdapterRecord, Store } from '../store/db.ts';
import { adapterFiles, adapterModelCard, importAdapterFiles } from '../store/export.ts';
import { stackedRecord } from '../store/stack.ts';
import { methodOfTrlConfig } from '../train/config.ts';

export class AdapterShelf {
  /** GPU copies of stored adapters for the loaded model, by id. */
  private readonly uploaded = new Map<string, LoraAdapter>();

  constructor(
    private readonly gpu: Gpu,
    private readonly store: Store,
  ) {}

  /** The GPU adapter for a stored record, uploaded for `model` on first use. */
  async adapter(id: string, model: ModelConfig): Promise<LoraAdapter> {
    const cached = this.uploaded.get(id);
    if (cached) return cached;
    const rec = await this.store.getAdapter(id);
    if (!rec) throw new Error(`Adapter ${id} does not exist (it may have been deleted).`);
    const tensors: PeftTensors = new Map(rec.tensors.map((t) => [t.name, { shape: t.shape, data: t.data }]));
    const adapter = LoraAdapter.fromPeft(this.gpu, model, rec.lora, tensors, `adapter "${rec.name}"`);
    this.uploaded.set(id, adapter);
    return adapter;
  }

  /** The adapter's record and its ancestors', base first (a DPO adapter trained on an SFT one has both). */
  async chain(id: string): Promise<AdapterRecord[]> {
    const chain: AdapterRecord[] = [];
    for (let cur: string | null = id; cur !== null; ) {
      if (chain.some((c) => c.id === cur)) throw new Error(`Adapter ${id} has a cycle in its parents.`);
      const rec = await this.store.getAdapter(cur);
      if (!rec) {
        const child = chain[0];
        throw new Error(
          child
            ? `Adapter "${child.name}" was trained on top of adapter ${cur}, which no longer exists.`
            : `Adapter ${id} does not exist (it may have been deleted).`,
        );
      }
      chain.unshift(rec);
      cur = rec.parentId;
    }
    return chain;
  }

  /** The GPU adapters of a chain, base first: what applying adapter `id` means; none for null (the base model). */
  async stack(id: string | null, model: ModelConfig): Promise<LoraAdapter[]> {
    if (id === null) return [];
    return Promise.all((await this.chain(id)).map((r) => this.adapter(r.id, model)));
  }

  /** Stores a new adapter; `gpuCopy`, when given, is its GPU adapter (a finished run's), kept for use. */
  async put(rec: AdapterRecord, gpuCopy?: LoraAdapter): Promise<void> {
    await this.store.putAdapter(rec);
    if (gpuCopy) this.uploaded.set(rec.id, gpuCopy);
  }

  async list(): Promise<AdapterSummary[]> {
    return (await this.store.listAdapters()).map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.createdAt,
      baseModel: r.baseModel,
      method: r.method,
      parentId: r.parentId,
      lora: r.lora,
      lastMetrics: [...r.metrics].reverse().find((m) => !Object.keys(m).some((k) => k.startsWith('eval_'))) ?? null,
      heldOut: heldOutOf(r.trainingConfig),
    }));
  }

  async rename(id: string, name: string): Promise<void> {
    await this.store.renameAdapter(id, name);
  }

  async delete(id: string, cascade: boolean): Promise<void> {
    await this.store.deleteAdapter(id, { cascade });
    this.uploaded.get(id)?.destroy();
    this.uploaded.delete(id);
  }

  /**
   * The PEFT folder's files: adapter_model.safetensors, adapter_config.json, training_config.json, README.md. An
   * adapter trained on top of another exports stacked (one exact adapter of rank r1+r2) unless `stacked: false`.
   */
  async export(id: string, options: ExportOptions): Promise<AdapterFile[]> {
    const chain = await this.chain(id);
    const rec = chain[chain.length - 1];
    if (chain.length === 1) return adapterFiles(rec);
    if (options.stacked === false) {
      const parent = chain[chain.length - 2];
      return adapterFiles(rec, adapterModelCard(rec, { parent: { name: parent.name, id: parent.id } }));
    }
    const { record, parts } = stackedRecord(chain);
    return adapterFiles(record, adapterModelCard(record, { stackedFrom: parts }));
  }

  /** Imports a PEFT folder's files, checked against `model` (named `baseModel`) before anything is stored. */
  async import(
    files: AdapterFile[],
    name: string,
    parentId: string | null,
    model: ModelConfig,
    baseModel: string,
  ): Promise<AdapterSummary> {
    const imported = importAdapterFiles(new Map(files.map((f) => [f.name.split('/').at(-1) as string, f.data])));
    LoraAdapter.fromPeft(this.gpu, model, imported.lora, imported.tensors).destroy();
    const now = Date.now();
    const rec: AdapterRecord = {
      id: crypto.randomUUID(),
      name,
      createdAt: now,
      updatedAt: now,
      // The model it was just checked against, whatever its config calls its base (a local folder's name, another
      // copy's Hub id): the screens offer an adapter with the model it is recorded for.
      baseModel,
      // Adapters from elsewhere with no training_config.json (or an unknown trainer) count as SFT.
      method: (imported.trainingConfig && methodOfTrlConfig(imported.trainingConfig)) || 'sft',
      parentId,
      lora: imported.lora,
      trainingConfig: imported.trainingConfig ?? {},
      metrics: imported.metrics,
      tensors: [...imported.tensors].map(([n, t]) => ({ name: n, shape: t.shape, data: t.data })),
    };
    await this.store.putAdapter(rec);
    return (await this.list()).find((a) => a.id === rec.id) as AdapterSummary;
  }

  /** Drops every GPU copy (the model they were uploaded for is going). */
  clear(): void {
    for (const a of this.uploaded.values()) a.destroy();
    this.uploaded.clear();
  }
}

/** The lines a run held out of its training file (training_config.json's eval_dataset, written by service/held-out.ts). */
function heldOutOf(trl: Record<string, unknown>): AdapterSummary['heldOut'] {
  const split = trl.eval_dataset as { held_out_from?: unknown; lines?: unknown } | undefined;
  if (typeof split?.held_out_from !== 'string' || !Array.isArray(split.lines)) return null;
  return { file: split.held_out_from, lines: split.lines.filter((l): l is number => Number.isInteger(l)) };
}
