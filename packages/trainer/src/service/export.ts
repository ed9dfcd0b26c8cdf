// Exports of the loaded model and a stored adapter (api.ts ModelExportRequest): which files each format writes, and
// their streaming to the client one chunk at a time. The checkpoint's files are read again from where the model was
// loaded (Cache Storage for the Hub), not kept from the load: a model being trained is not held twice in memory for
// an export that may never come. Writers hold one tensor at a time (export/files.ts).
import type { ExportChunk, ExportDType, ExportedFile, ModelExportRequest } from '../api.ts';
import type { FloatDType } from '../export/dtype.ts';
import { bytesFile, ExportError, type ExportFile, writeChecked } from '../export/files.ts';
import { ggufLoraFile } from '../export/gguf/lora.ts';
import { GGUF_MODEL_TYPES, type GgufModelType, ggufModelFile } from '../export/gguf/model.ts';
import { mergedModelFiles } from '../export/hf-folder.ts';
import { mergeAdapters, openCheckpoint } from '../export/merge.ts';
import { ollamaFiles, ollamaName } from '../export/ollama.ts';
import { trlRunFiles } from '../export/trl-run.ts';
import { fetchModelFiles } from '../model/source.ts';
import type { AdapterRecord } from '../store/db.ts';
import { ZipError, zipStream } from '../store/zip.ts';
import type { AdapterShelf } from './adapters.ts';
import type { Datasets } from './datasets.ts';
import type { LoadedModel } from './model.ts';

/** Chunks handed to the client are at most this big (a tensor may be hundreds of MB). */
export const EXPORT_CHUNK_BYTES = 4 * 2 ** 20;

const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

function floatDType(format: string, dtype: ExportDType | undefined): FloatDType | undefined {
  if (dtype === undefined || FLOAT_DTYPES.includes(dtype)) return dtype as FloatDType | undefined;
  throw new ExportError(`dtype ${dtype} is for GGUF models (gguf, ollama); ${format} is written in F32, F16 or BF16`);
}

function ggufType(dtype: ExportDType | undefined): GgufModelType {
  const type = dtype ?? 'F16';
  if (!GGUF_MODEL_TYPES.includes(type)) throw new ExportError(`dtype ${type}: GGUF models are written in ${GGUF_MODEL_TYPES.join(', ')}`);
  return type;
}

export interface ExportContext {
  loaded: LoadedModel;
  shelf: AdapterShelf;
  datasets: Datasets;
}

/** The adapter chain a request names (base first), or none; formats that need an adapter refuse null. */
async function chainOf(shelf: AdapterShelf, request: ModelExportRequest): Promise<AdapterRecord[]> {
  if (request.adapterId !== null) return shelf.chain(request.adapterId);
  if (request.format === 'peft' || request.format === 'gguf-lora' || request.format === 'trl-run')
    throw new ExportError(`the ${request.format} export is of an adapter: choose one (the base model alone has none)`);
  return [];
}

/** The files `request` writes, each ready to stream (or the one ZIP that holds them); nothing is written yet. */
export async function exportFiles(context: ExportContext, request: ModelExportRequest): Promise<ExportFile[]> {
  const files = await formatFiles(context, request);
  return request.zip === undefined ? files : [zipOf(request.zip, files)];
}

/** `files` as one stored ZIP, `<folder>.zip`, each file under `<folder>/`. */
function zipOf(folder: string, files: ExportFile[]): ExportFile {
  if (!/^[^/\\\0]+$/.test(folder) || folder === '.' || folder === '..')
    throw new ExportError(`zip: "${folder}" cannot name the folder inside the archive: give a name without / or \\`);
  let archive: ReturnType<typeof zipStream>;
  try {
    archive = zipStream(files.map((f) => ({ ...f, name: `${folder}/${f.name}` })));
  } catch (e) {
    if (!(e instanceof ZipError)) throw e;
    throw new ExportError(`${folder}.zip: ${e.message}: export the files themselves (no zip) instead`);
  }
  return { name: `${folder}.zip`, size: archive.size, write: (sink) => archive.write(sink) };
}

async function formatFiles({ loaded, shelf, datasets }: ExportContext, request: ModelExportRequest): Promise<ExportFile[]> {
  const chain = await chainOf(shelf, request);
  const top = chain.at(-1);
  const name = top ? `${loaded.id} + ${top.name}` : loaded.id;
  if ((request.format === 'peft' || request.format === 'trl-run') && request.dtype !== undefined)
    throw new ExportError(`dtype is not for ${request.format}: its adapter is written in F32, as PEFT saves one; leave dtype out`);
  if (request.format === 'peft') {
    const files = await shelf.export(request.adapterId as string, { stacked: request.stacked });
    return files.map((f) => bytesFile(f.name, f.data));
  }
  if (request.format === 'trl-run') return trlRun({ loaded, shelf, datasets }, request, chain);
  if (request.format === 'gguf-lora')
    return [ggufLoraFile(loaded.model.config, chain, { type: floatDType('gguf-lora', request.dtype), name })];
  const files = await fetchModelFiles(loaded.source, { cache: loaded.cache, passThrough: request.format === 'merged' });
  // Headers now; each tensor is read from its file when the writer reaches it, a block of rows at a time.
  const base = await openCheckpoint(files.config, files.safetensors);
  const tokenizer = { json: JSON.parse(files.tokenizerJson), config: JSON.parse(files.tokenizerConfig) };
  switch (request.format) {
    case 'merged': {
      const baseFiles = new Map(
        [
          ['config.json', files.config],
          ['tokenizer.json', files.tokenizerJson],
          ['tokenizer_config.json', files.tokenizerConfig],
          ...files.passThrough,
        ].map(([n, t]) => [n, new TextEncoder().encode(t)]),
      );
      const dtype = floatDType('merged', request.dtype);
      return mergedModelFiles(base, baseFiles, chain, { dtype, maxShardBytes: request.maxShardBytes, baseModel: loaded.id });
    }
    case 'gguf':
      return [ggufModelFile(mergeAdapters(base, chain), { type: ggufType(request.dtype), name, tokenizer })];
    case 'ollama': {
      const gguf = ggufModelFile(mergeAdapters(base, chain), { type: ggufType(request.dtype), name, tokenizer });
      return ollamaFiles(
        gguf,
        {
          name: ollamaName(top ? top.name : (loaded.id.split('/').at(-1) ?? loaded.id)),
          chatTemplate: typeof tokenizer.config.chat_template === 'string' ? tokenizer.config.chat_template : undefined,
          contextLength: base.config.maxPositionEmbeddings,
        },
        top ? `${loaded.id} with the adapter "${top.name}" merged in` : loaded.id,
      );
    }
  }
}

/** The TRL run folder of the adapter at the top of `chain`, with the dataset it was trained on as loaded. */
async function trlRun(
  { loaded, shelf, datasets }: ExportContext,
  request: ModelExportRequest,
  chain: AdapterRecord[],
): Promise<ExportFile[]> {
  const top = chain[chain.length - 1];
  if (request.datasetId === undefined)
    throw new ExportError(`the trl-run export writes the dataset the adapter was trained on: load it and pass its id (datasetId)`);
  const dataset = datasets.get(request.datasetId);
  if (dataset.method !== top.method)
    throw new ExportError(
      `${dataset.file} was loaded as a ${dataset.method.toUpperCase()} dataset; the adapter "${top.name}" was trained with ` +
        `${top.method.toUpperCase()}: load the dataset it was trained on`,
    );
  const adapterFiles = await shelf.export(top.id, { stacked: true });
  return trlRunFiles({
    trainingConfig: top.trainingConfig,
    baseModel: loaded.id,
    datasetLines: dataset.rowsAsUsed(),
    datasetLineNumbers: dataset.linesUsed,
    evalLines: request.evalDatasetId === undefined ? undefined : datasets.get(request.evalDatasetId).rowsAsUsed(),
    adapterFiles,
    adapterName: top.name,
  });
}

export const describeFiles = (files: ExportFile[]): ExportedFile[] => files.map(({ name, size }) => ({ name, size }));

/**
 * Streams every file of `files` into `onChunk`, in order, awaiting each chunk. Each chunk owns its buffer: posted to
 * the page, a view into a larger buffer (a 16 MB block of a tensor) is cloned with the whole buffer, so a download
 * built from the chunks would hold every block several times over.
 */
export async function streamExport(files: ExportFile[], onChunk: (chunk: ExportChunk) => Promise<void> | void): Promise<void> {
  for (const file of files) {
    await writeChecked(file, {
      async write(bytes) {
        for (let at = 0; at < bytes.length; at += EXPORT_CHUNK_BYTES) {
          const whole = at === 0 && bytes.length <= EXPORT_CHUNK_BYTES && bytes.byteLength === bytes.buffer.byteLength;
          await onChunk({ file: file.name, data: whole ? bytes : bytes.slice(at, at + EXPORT_CHUNK_BYTES) });
        }
      },
    });
  }
}
