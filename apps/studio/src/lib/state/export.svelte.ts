// The Export panel's state (Adapters screen): which model or adapter, in which format and number type; the exact size
// before writing (planExport); the export itself run in the worker (exportModel), its chunks written as they come into
// a file the user picked or a download built at the end; progress, cancel, and nothing presented as saved until the
// last byte is (save-file.ts). A format of several files (a folder) is written as one .zip.
import { callback, type ExportDType, type ExportedFile, type ExportFormat, type ModelExportRequest } from '@webtune/trainer';
import { explain, type Problem } from '../errors.ts';
import { slug } from '../format.ts';
import { canSaveFile, downloadSink, type FileSink, pickFileSink } from '../save-file.ts';
import { studio } from '../studio.svelte.ts';
import { adapterState } from './adapters.svelte.ts';
import { dataState, slotOf } from './data.svelte.ts';

export interface FormatInfo {
  label: string;
  /** What it is for, in a sentence. */
  what: string;
  /** Number types offered, the default first; none: the format keeps the adapter's float32. */
  dtypes: ExportDType[];
  /** It exports an adapter: the base model alone has none. */
  needsAdapter: boolean;
  /** One file with this extension; otherwise a folder, written as a .zip. */
  single?: string;
}

export const FORMATS: Record<ExportFormat, FormatInfo> = {
  gguf: {
    label: 'GGUF model',
    what: 'The model with the adapter merged in, one file for llama.cpp, LM Studio and Ollama.',
    dtypes: ['F16', 'Q8_0', 'BF16', 'F32'],
    needsAdapter: false,
    single: '.gguf',
  },
  ollama: {
    label: 'Ollama bundle',
    what: 'The GGUF model, a Modelfile with the chat template and stop tokens, and a README with the two commands to run it.',
    dtypes: ['F16', 'Q8_0', 'BF16', 'F32'],
    needsAdapter: false,
  },
  merged: {
    label: 'Merged model (safetensors)',
    what: 'The model with the adapter merged in, as a Hugging Face folder for transformers, vLLM or TGI; no PEFT needed.',
    dtypes: ['BF16', 'F16', 'F32'],
    needsAdapter: false,
  },
  'gguf-lora': {
    label: 'GGUF LoRA adapter',
    what: "The adapter alone as GGUF, for llama.cpp (--lora) or wllama beside the base model's GGUF.",
    dtypes: ['F32', 'F16', 'BF16'],
    needsAdapter: true,
    single: '.gguf',
  },
  peft: {
    label: 'PEFT adapter',
    what: 'The adapter as PeftModel.from_pretrained loads it, with its training config and card.',
    dtypes: [],
    needsAdapter: true,
  },
  'trl-run': {
    label: 'TRL run folder',
    what: 'The dataset as used, config.yaml in TRL names, an accelerate config and the adapter: go on training on a GPU machine.',
    dtypes: [],
    needsAdapter: true,
  },
};

export const DTYPE_WORDS: Record<ExportDType, string> = {
  F32: 'F32 (32-bit, exact)',
  F16: 'F16 (16-bit)',
  BF16: 'BF16 (16-bit, bfloat)',
  Q8_0: "Q8_0 (8-bit, llama.cpp's quantisation)",
};

const cancelled = () => Object.assign(new Error('The export was cancelled.'), { name: 'AbortError' });

export type ExportPhase = 'idle' | 'writing' | 'saved' | 'cancelled' | 'failed';

class ExportState {
  /** The adapter to export (applied on the adapters it was trained on); '' = the base model alone. */
  adapterId = $state('');
  format: ExportFormat = $state('gguf');
  /** '' = the format's default (the first of FORMATS[format].dtypes; merged: the base's). */
  dtype: ExportDType | '' = $state('');
  /** What the export will write, exact sizes; null while planning or when it cannot be written. */
  plan: ExportedFile[] | null = $state(null);
  planning = $state(false);
  phase: ExportPhase = $state('idle');
  written = $state(0);
  total = $state(0);
  /** Said once the export ends: where it was saved, or that nothing was. */
  outcome = $state('');
  problem: Problem | null = $state(null);
  private cancelRequested = false;
  private planSeq = 0;

  /** The export as the worker takes it, or the reason it cannot be asked for yet. */
  request(): ModelExportRequest | string {
    const info = FORMATS[this.format];
    const adapter = adapterState.list.find((a) => a.id === this.adapterId);
    if (info.needsAdapter && !adapter) return `${info.label}: choose an adapter (the base model alone has none).`;
    const request: ModelExportRequest = { format: this.format, adapterId: adapter?.id ?? null };
    if (this.dtype !== '' && info.dtypes.includes(this.dtype)) request.dtype = this.dtype;
    if (this.format === 'trl-run' && adapter) {
      const id = dataState.datasets[slotOf(adapter.method)]?.summary?.id;
      if (!id) return `The TRL run folder holds the dataset "${adapter.name}" was trained on: load it on the Data screen first.`;
      request.datasetId = id;
    }
    if (!info.single) request.zip = `${this.baseName()}-${this.format}`;
    return request;
  }

  /** The bytes the plan writes, all files together (0 without a plan). */
  get planBytes(): number {
    return this.plan?.reduce((n, f) => n + f.size, 0) ?? 0;
  }

  /** The saved file's name: the adapter's (or the model's) name, the format, the number type. */
  fileName(): string {
    const info = FORMATS[this.format];
    if (!info.single) return `${this.baseName()}-${this.format}.zip`;
    const dtype = (this.dtype || info.dtypes[0]).toLowerCase();
    return `${this.baseName()}${this.format === 'gguf-lora' ? '-lora' : ''}-${dtype}${info.single}`;
  }

  private baseName(): string {
    const adapter = adapterState.list.find((a) => a.id === this.adapterId);
    return slug(adapter?.name ?? studio.model?.id.split('/').at(-1) ?? 'model') || 'model';
  }

  /** Asks the worker what the export would write (its exact size), for the settings as they are now. */
  async refreshPlan(): Promise<void> {
    const seq = ++this.planSeq;
    this.plan = null;
    this.problem = null;
    const request = this.request();
    if (typeof request === 'string' || !studio.model || studio.engine !== 'ready') return;
    this.planning = true;
    try {
      const plan = await studio.api.planExport(request);
      if (seq === this.planSeq) this.plan = plan;
    } catch (e) {
      if (seq === this.planSeq) this.problem = explain(e, 'planning the export');
    } finally {
      if (seq === this.planSeq) this.planning = false;
    }
  }

  /**
   * Writes the export. Call it straight from the click: where the browser can write a file as it comes, its save
   * picker opens first (only a click may open it); elsewhere the bytes are gathered and downloaded at the end.
   */
  async start(): Promise<void> {
    const request = this.request();
    if (typeof request === 'string' || !this.plan) return;
    const name = this.fileName();
    this.problem = null;
    this.outcome = '';
    let sink: FileSink | null;
    try {
      sink = canSaveFile() ? await pickFileSink(name, FORMATS[this.format].label) : downloadSink(name, 'application/octet-stream');
    } catch (e) {
      this.problem = explain(e, 'opening the file to write');
      return;
    }
    if (!sink) return; // the picker was closed: nothing started
    this.cancelRequested = false;
    this.written = 0;
    this.total = this.planBytes;
    this.phase = 'writing';
    try {
      await studio.api.exportModel(
        request,
        callback(async (chunk: { data: Uint8Array }) => {
          if (this.cancelRequested) throw cancelled(); // thrown into the worker's write: the export stops at this chunk
          await (sink as FileSink).write(chunk.data);
          this.written += chunk.data.length;
        }),
      );
      if (this.cancelRequested) throw cancelled();
      await sink.close();
      this.phase = 'saved';
      this.outcome = `Saved ${name} to ${sink.where}.`;
    } catch (e) {
      await sink.abort();
      if (this.cancelRequested) {
        this.phase = 'cancelled';
        this.outcome = 'Cancelled: nothing was saved.';
      } else {
        this.phase = 'failed';
        this.outcome = 'The export stopped: nothing was saved.';
        this.problem = explain(e, 'writing the export');
      }
    }
  }

  cancel(): void {
    if (this.phase === 'writing') this.cancelRequested = true;
  }
}

export const exportState = new ExportState();
