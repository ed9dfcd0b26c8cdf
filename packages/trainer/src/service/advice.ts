// What to do about running out of GPU memory, in the trainer's terms: the kernels name the work that failed and its
// sizes; the settings that shrink it (batch size, max length, LoRA rank, the model) are the trainer's to name.
import { GpuOutOfMemoryError } from '@webtune/kernels';

export const MEMORY_ADVICE =
  'Use a smaller batch size or max length, a smaller LoRA rank, or a smaller model; closing other GPU-heavy tabs and apps also frees memory.';

/** `err`, with the advice added to its message when it is an out-of-memory error (its class and name kept). */
export function withMemoryAdvice<E>(err: E): E {
  if (err instanceof GpuOutOfMemoryError && !err.message.endsWith(MEMORY_ADVICE)) err.message = `${err.message} ${MEMORY_ADVICE}`;
  return err;
}

/** `work`'s result, or its error with the advice added. */
export async function advised<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw withMemoryAdvice(err);
  }
}
