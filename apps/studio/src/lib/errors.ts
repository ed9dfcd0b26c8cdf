// Every failure as a plain title and sentence, with what to do. The engine's messages already say what went
// wrong and what to try (they cross the worker boundary with their `name`); this adds a heading and fills the
// gaps for errors that come from the browser itself.

export interface Problem {
  title: string;
  message: string;
  /** The GPU is gone: nothing works until the page is reloaded. */
  reload?: boolean;
}

const errName = (e: unknown) => (typeof e === 'object' && e !== null ? String((e as { name?: unknown }).name ?? '') : '');
const errText = (e: unknown) => (e instanceof Error ? e.message : typeof e === 'string' ? e : String(e));

/** True when the user cancelled (a download): not a failure to report. */
export function isCancel(e: unknown): boolean {
  return errName(e) === 'AbortError';
}

export function explain(e: unknown, doing: string): Problem {
  const name = errName(e);
  const message = errText(e).replace(/^Error: /, '');
  switch (name) {
    case 'GpuOutOfMemoryError':
      return { title: 'Out of GPU memory', message };
    case 'DeviceLostError':
      return { title: 'The GPU stopped working', message, reload: true };
    case 'StorageError':
      return /full|quota/i.test(message) ? { title: 'Browser storage is full', message } : { title: 'Storage problem', message };
    case 'QuotaExceededError':
      return {
        title: 'Browser storage is full',
        message: `The browser refused to store more data while ${doing}. Delete old adapters in the Adapters screen, or free disk space, then try again. Nothing already saved was lost.`,
      };
    case 'ModelSourceError':
      return { title: 'The model could not be loaded', message };
    case 'ConfigError':
    case 'TokenizerError':
      return { title: 'This model cannot be used here', message };
    case 'DatasetError':
      return { title: 'No usable rows in this file', message };
    case 'ConfigValueError':
      return { title: 'A setting is out of range', message };
    case 'ZipError':
    case 'AdapterFilesError':
    case 'SafetensorsError':
    case 'PeftError':
    case 'LoraError':
      return { title: 'These files cannot be used', message };
    case 'TrainingError':
      return { title: 'Training could not run', message };
    case 'DataCloneError':
      return {
        title: 'Something went wrong',
        message: `webtune could not pass data to its worker while ${doing} (${message}). Reload the page.`,
      };
  }
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
