// Errors a user of the kernels can act on. Each message names the op or kernel and says what to do.

/** Shapes that cannot work together; thrown before anything is dispatched. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
  }
}

export interface CompileMessage {
  type: GPUCompilationMessageType;
  line: number;
  column: number;
  message: string;
}

/** A WGSL kernel that does not compile: each message as `<kernel>.wgsl:line:column`, with the line. */
export class KernelCompileError extends Error {
  override name = 'KernelCompileError';
  constructor(
    readonly kernel: string,
    readonly messages: CompileMessage[],
    source: string,
  ) {
    const lines = source.split('\n');
    const text = messages
      .map((m) => `${kernel}.wgsl:${m.line}:${m.column}: ${m.type}: ${m.message}\n    ${lines[m.line - 1]?.trim() ?? ''}`)
      .join('\n');
    super(`WGSL kernel "${kernel}" failed to compile:\n${text}`);
  }
}

/**
 * The GPU ran out of memory while `label` ran (`label` names the work and its sizes). What to shrink is the caller's
 * to say: the trainer adds its advice (batch size, LoRA rank) to the message.
 */
export class GpuOutOfMemoryError extends Error {
  override name = 'GpuOutOfMemoryError';
  constructor(label: string, detail: string) {
    super(`Out of GPU memory during ${label} (${detail}).`);
  }
}

/** WebGPU rejected a call during `label`: a bug in webtune, or a limit of this GPU. */
export class GpuValidationError extends Error {
  override name = 'GpuValidationError';
  constructor(label: string, detail: string) {
    super(`WebGPU validation error during ${label}: ${detail}`);
  }
}

/** The browser or driver failed on work that was valid (e.g. a pipeline too big for this GPU) during `label`. */
export class GpuInternalError extends Error {
  override name = 'GpuInternalError';
  constructor(label: string, detail: string) {
    super(`WebGPU internal error during ${label}: ${detail}`);
  }
}

/** What a WebGPU error scope of `filter` (or an uncaptured error of that kind) caught during `label`, typed. */
export function typedGpuError(
  filter: GPUErrorFilter,
  label: string,
  detail: string,
): GpuOutOfMemoryError | GpuValidationError | GpuInternalError {
  if (filter === 'out-of-memory') return new GpuOutOfMemoryError(label, detail);
  if (filter === 'internal') return new GpuInternalError(label, detail);
  return new GpuValidationError(label, detail);
}

/** The kind of a GPUError that no scope caught, from its class (GPUValidationError unless another). */
export function errorFilterOf(error: GPUError): GPUErrorFilter {
  const kind = error.constructor.name;
  return kind === 'GPUOutOfMemoryError' ? 'out-of-memory' : kind === 'GPUInternalError' ? 'internal' : 'validation';
}

/** The GPUDevice is gone; nothing more can run on it. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(
      reason === 'destroyed'
        ? 'The GPU device was closed by webtune; start a new session.'
        : `The GPU device was lost (${detail || reason}). This happens when the graphics driver resets, often after ` +
            'running out of memory or a very long GPU task. Reload the page (or rerun the command) to continue; ' +
            'saved adapters and checkpoints are kept.',
    );
  }
}
