// GPU-test helper for the flat-buffer ops: a tensor followed in its buffer by sentinel values,
// as a view of the trainer's flat parameter buffer is followed by the next parameter. A kernel
// that writes its last vec4 whole (or runs past n) changes them.
import type { Gpu } from '../runtime/gpu.ts';
import { Tensor } from '../runtime/tensor.ts';

/** Values after each tensor in its buffer, where a careless last vec4 would write. */
const SENTINELS = Float32Array.of(7.5, -7.5, 1e30, -1e30, 42);

/** A tensor holding `data`, followed in its buffer by the sentinels. */
export function padded(gpu: Gpu, data: Float32Array, label: string): Tensor {
  const host = new Float32Array(data.length + SENTINELS.length);
  host.set(data);
  host.set(SENTINELS, data.length);
  return gpu.upload(host, [host.length], label).view([data.length]);
}

/** A padded tensor's values; throws if the sentinels after it changed. */
export async function readPadded(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  const all = await gpu.read(new Tensor(t.buffer, [t.size + SENTINELS.length], 'f32', t.label, t.byteOffset));
  const past = all.subarray(t.size);
  if (past.some((v, i) => v !== SENTINELS[i])) throw new Error(`${t} was written past its end: [${Array.from(past)}]`);
  return all.subarray(0, t.size);
}
