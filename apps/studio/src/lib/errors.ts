// Every failure as a plain title and sentence, with what to do. The engine's messages already say what went
// wrong and what to try (they cross the worker boundary with their `name`); this adds a heading and fills the
// gaps for errors that come from the browser itself.

import { type ErrorName, isErrorName } from '@webtune/trainer';

export interface Problem {
  title: string;
  message: string;
  /** The GPU is gone: nothing works until the page is reloaded. */
  reload?: boolean;
}

const errName = (e: unknown) => (typeof e === 'object' && e !== null ? String((e as { name?: unknown }).name ?? '') : '');
/** An error's own words, whatever was thrown (a DOMException's message, a string). */
export const errText = (e: unknown) => (e instanceof Error ? e.message : typeof e === 'string' ? e : String(e));

/** True when the user cancelled (a download): not a failure to report. */
export function isCancel(e: unknown): boolean {
  return errName(e) === 'AbortError';
}

/** A heading for an error of one name, or null to judge it by its message (below) like any other. */
type Explainer = (message: string, doing: string) => Problem | null;
const titled =
  (title: string): Explainer =>
  (message) => ({ title, message });
const byMessage: Explainer = () => null;
const unusableFiles = titled('These files cannot be used');

/** Every error name the trainer can reject with (api.ts ERROR_NAMES): a name added there must be handled here. */
const BY_NAME: Record<ErrorName, Explainer> = {
  GpuOutOfMemoryError: titled('Out of GPU memory'),
  DeviceLostError: (message) => ({ title: 'The GPU stopped working', message, reload: true }),
  GpuValidationError: byMessage,
  GpuInternalError: byMessage,
  ShapeError: byMessage,
  KernelCompileError: byMessage,
  StorageError: (message) =>
    /full|quota/i.test(message) ? { title: 'Browser storage is full', message } : { title: 'Storage problem', message },
  QuotaExceededError: (_, doing) => ({
    title: 'Browser storage is full',
    message: `The browser refused to store more data while ${doing}. Delete old adapters in the Adapters screen, or free disk space, then try again. Nothing already saved was lost.`,
  }),
  ModelSourceError: titled('The model could not be loaded'),
  ConfigError: titled('This model cannot be used here'),
  TokenizerError: titled('This model cannot be used here'),
  DatasetError: titled('No usable rows in this file'),
  ConfigValueError: titled('A setting is out of range'),
  ZipError: unusableFiles,
  AdapterFilesError: unusableFiles,
  SafetensorsError: unusableFiles,
  LoraError: unusableFiles,
  TrainingError: titled('Training could not run'),
  LessonError: byMessage,
  ExportError: titled('This export cannot be written'),
  AbortError: byMessage, // a cancel: isCancel() tells callers not to report it
  DataCloneError: (message, doing) => ({
    title: 'Something went wrong',
    message: `webtune could not pass data to its worker while ${doing} (${message}). Reload the page.`,
  }),
};

export function explain(e: unknown, doing: string): Problem {
  const name = errName(e);
  const message = errText(e).replace(/^Error: /, '');
  const named = isErrorName(name) ? BY_NAME[name](message, doing) : null;
  if (named) return named;
  if (/device (was )?lost|GPUDevice.*lost/i.test(message)) return { title: 'The GPU stopped working', message, reload: true };
  if (/out of memory/i.test(message)) return { title: 'Out of GPU memory', message };
  if (/WebGPU/i.test(message) && /not available|no GPU adapter/i.test(message)) return noWebGpu(message);
  return { title: `Something went wrong while ${doing}`, message: message || 'An unknown error occurred. Reload the page and try again.' };
}

export function noWebGpu(detail?: string): Problem {
  return {
    title: 'This browser cannot train models here',
    message:
      `${detail ? `${detail} ` : ''}webtune needs WebGPU: use a recent Chrome, Edge or another Chromium browser (version 113 or newer) ` +
      'with hardware acceleration turned on (Settings → System). On Linux, WebGPU may need to be enabled at chrome://flags/#enable-unsafe-webgpu. ' +
      'Safari and Firefox support is still experimental.',
  };
}
