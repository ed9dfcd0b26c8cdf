// The Adapters screen's state: the adapters and the interrupted runs this browser holds, and what can be done with
// them (rename, delete, export, import, discard a run). Every screen that names an adapter reads the list here.
import { type AdapterSummary, type RunSummary, unzip } from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { studio } from '../studio.svelte.ts';

export class AdapterState {
  list: AdapterSummary[] = $state([]);
  /** Runs with a checkpoint that did not finish (a reload, a crash, a stop before the end). */
  runs: RunSummary[] = $state([]);
  problem: Problem | null = $state(null);

  async refresh(): Promise<void> {
    if (studio.engine !== 'ready') return;
    try {
      const [adapters, runs] = await Promise.all([studio.api.listAdapters(), studio.api.listRuns()]);
      this.list = adapters;
      this.runs = runs;
    } catch (e) {
      this.problem = explain(e, 'listing adapters');
    }
  }

  /** SFT adapters a DPO run can start from: trained on the loaded model, newest first. */
  get sft(): AdapterSummary[] {
    return this.list.filter((a) => a.method === 'sft' && a.baseModel === studio.model?.id);
  }

  name(id: string | null): string {
    if (!id) return '';
    return this.list.find((a) => a.id === id)?.name ?? 'a deleted adapter';
  }

  async rename(id: string, name: string): Promise<void> {
    this.problem = null;
    try {
      await studio.api.renameAdapter(id, name);
    } catch (e) {
      this.problem = explain(e, 'renaming the adapter');
    }
    await this.refresh();
  }

  async remove(id: string, cascade: boolean): Promise<void> {
    this.problem = null;
    try {
      await studio.api.deleteAdapter(id, cascade);
    } catch (e) {
      this.problem = explain(e, 'deleting the adapter');
    }
    await this.refresh();
  }

  async discardRun(runId: string): Promise<void> {
    try {
      await studio.api.deleteRun(runId);
    } catch (e) {
      this.problem = explain(e, 'discarding the run');
    }
    await this.refresh();
  }

  /** The PEFT folder's files of an adapter (a DPO adapter comes stacked with the SFT adapter under it). */
  async exportFiles(id: string): Promise<{ name: string; data: Uint8Array }[] | null> {
    this.problem = null;
    try {
      return await studio.api.exportAdapter(id);
    } catch (e) {
      this.problem = explain(e, 'exporting the adapter');
      return null;
    }
  }

  /** Import a PEFT adapter: its folder's files, or a .zip of them. */
  async import(files: Map<string, File>, name: string, parentId: string | null): Promise<AdapterSummary | null> {
    this.problem = null;
    if (!studio.model) {
      this.problem = {
        title: 'Load a model first',
        message: 'An adapter is checked against the model it will run on: load its base model, then import.',
      };
      return null;
    }
    try {
      const list: { name: string; data: Uint8Array }[] = [];
      for (const [path, file] of files) {
        const data = new Uint8Array(await file.arrayBuffer());
        if (!/\.zip$/i.test(path)) list.push({ name: path, data });
        else for (const [inner, bytes] of await unzipNamed(data, path)) list.push({ name: inner, data: bytes });
      }
      const imported = await studio.api.importAdapter(list, name, parentId);
      await this.refresh();
      return imported;
    } catch (e) {
      this.problem = explain(e, 'importing the adapter');
      return null;
    }
  }
}

/** A .zip's files (stored or deflated); what is wrong with it says which archive. */
async function unzipNamed(data: Uint8Array, path: string): Promise<Map<string, Uint8Array>> {
  try {
    return await unzip(data, { inflate: true });
  } catch (e) {
    if (e instanceof Error && e.name === 'ZipError') e.message = `${path}: ${e.message}`;
    throw e;
  }
}

export const adapterState = new AdapterState();
