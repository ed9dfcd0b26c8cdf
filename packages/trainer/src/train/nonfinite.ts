// Where a non-finite value began, in llm.c's detector style: once a step's loss or gradient norm is not finite (and
// only then: nothing here runs on a healthy step), its micro-batches run again and the search names the first
// operation after which an activation or a gradient holds NaN or an infinity, and the tensor it wrote.
//
// How: a micro-batch is run again through its objective while the Gpu's `run` and `write` are traced, giving the
// ordered list of what it did (each dispatch or copy, each host write of inputs or loss weights). Replaying a prefix
// of that list from cleared buffers and reading every activation buffer (the model's pool) and the LoRA gradients
// says whether a non-finite value exists after it; a binary search over the prefix length finds the operation before
// which all were finite and after which one is not. Replays are deterministic (same inputs, same dropout seeds: the
// seeds' uniforms hold the micro-batch's own seed once it has run), so about log2(operations) replays suffice.
import type { Command, Gpu, Tensor, TypedArray } from '@webtune/kernels';
import type { LoraAdapter } from '../model/lora.ts';
import { peftKey } from '../model/lora.ts';
import type { ActivationPool } from '../model/pool.ts';

/** What the search reads: the model's activation buffers, the trained adapter and its gradient buffer. */
export interface NonFiniteScene {
  gpu: Gpu;
  pool: ActivationPool;
  adapter: LoraAdapter;
  grads: Tensor;
}

type TracedEvent = { command: Command } | { write: Tensor; data: TypedArray; offset: number };

interface Found {
  /** What holds it: an activation's pool name, or the gradient of a LoRA tensor. */
  tensor: string;
  index: number;
  size: number;
  value: number;
}

/**
 * Runs the step's `count` micro-batches again (`rerun(i)` runs the i-th as the loop ran it), in order, until one leaves
 * a non-finite value, and returns a sentence naming the operation and the tensor where it first appeared.
 */
export async function locateNonFinite(scene: NonFiniteScene, count: number, rerun: (i: number) => Promise<unknown>): Promise<string> {
  const { gpu, grads } = scene;
  gpu.record().clear(grads).submit();
  for (let i = 0; i < count; i++) {
    const gradsBefore = await gpu.read(grads);
    clearPool(scene);
    const { events, release } = await traced(gpu, () => rerun(i));
    try {
      if ((await nonFinite(scene)).length === 0) continue;
      // Invariant: after `lo` events all is finite (nothing has run on cleared buffers); after `hi` something is not.
      let lo = 0;
      let hi = events.length;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if ((await afterPrefix(scene, gradsBefore, events, mid)).length > 0) hi = mid;
        else lo = mid;
      }
      const what = (await afterPrefix(scene, gradsBefore, events, hi)).map(describe).join('; ');
      const event = events[hi - 1];
      const where = `operation ${hi} of ${events.length}${count > 1 ? ` of micro-batch ${i + 1} of ${count}` : ''}`;
      return 'command' in event
        ? `It first appeared at ${where}, "${event.command.label}", which wrote ${what}.`
        : `It first appeared at ${where}, a write by the host into ${event.write.label}: ${what}.`;
    } finally {
      release();
    }
  }
  const g = await gpu.read(grads);
  let largest = 0;
  for (let j = 1; j < g.length; j++) if (Math.abs(g[j]) > Math.abs(g[largest])) largest = j;
  return (
    'Run again operation by operation, every activation and gradient of the step stays finite; the largest gradient ' +
    `entry is ${g[largest]} (in the gradient of ${loraTensorAt(scene.adapter, largest)}), so the gradient's sum of ` +
    "squares overflows float32 or the loss's arithmetic does."
  );
}

/**
 * The events of `replay` (its dispatches, copies and host writes, in order), run as they are traced. Buffers the
 * replay makes and frees (e.g. a DPO reference pass's scratch) are freed only by `release`, once the search is done:
 * the traced commands bind them and are replayed again.
 */
async function traced(gpu: Gpu, replay: () => Promise<unknown>): Promise<{ events: TracedEvent[]; release(): void }> {
  const events: TracedEvent[] = [];
  const deferred: (() => void)[] = [];
  // Patched on this Gpu object only, and only while the replay runs: the objectives call gpu.run, gpu.runAndStage (also
  // through gpu.runAndRead) and gpu.write, and the kernels runtime has no tracing of its own (never needed on the hot path).
  const { run, runAndStage, write, tensor } = gpu;
  gpu.run = (...commands: Command[]) => {
    for (const command of commands) events.push({ command });
    run.apply(gpu, commands);
  };
  gpu.runAndStage = (commands: readonly Command[], reads: readonly Tensor[]) => {
    for (const command of commands) events.push({ command });
    return runAndStage.call(gpu, commands, reads);
  };
  gpu.write = (t: Tensor, data: TypedArray, offset = 0) => {
    events.push({ write: t, data: data.slice(), offset });
    write.call(gpu, t, data, offset);
  };
  gpu.tensor = (...args: Parameters<Gpu['tensor']>) => {
    const t = tensor.apply(gpu, args);
    const destroy = t.buffer.destroy.bind(t.buffer);
    t.buffer.destroy = () => void deferred.push(destroy);
    return t;
  };
  try {
    await replay();
  } finally {
    gpu.run = run;
    gpu.runAndStage = runAndStage;
    gpu.write = write;
    gpu.tensor = tensor;
  }
  const release = () => {
    for (const destroy of deferred.splice(0)) destroy();
  };
  return { events, release };
}

function clearPool({ gpu, pool }: NonFiniteScene): void {
  const rec = gpu.record();
  for (const t of pool.tensors()) rec.clear(t);
  rec.submit();
}

/** From cleared activations and the gradients the micro-batch started from, the first `count` events; what is then non-finite. */
async function afterPrefix(scene: NonFiniteScene, gradsBefore: Float32Array, events: TracedEvent[], count: number): Promise<Found[]> {
  const { gpu } = scene;
  clearPool(scene);
  gpu.write(scene.grads, gradsBefore);
  let commands: Command[] = [];
  for (const e of events.slice(0, count)) {
    if ('command' in e) commands.push(e.command);
    else {
      if (commands.length > 0) gpu.run(...commands);
      commands = [];
      gpu.write(e.write, e.data, e.offset);
    }
  }
  if (commands.length > 0) gpu.run(...commands);
  return nonFinite(scene);
}

/** Every activation buffer and LoRA gradient tensor holding a NaN or an infinity, with its first such element. */
async function nonFinite({ gpu, pool, adapter, grads }: NonFiniteScene): Promise<Found[]> {
  const found: Found[] = [];
  for (const t of pool.tensors()) {
    if (t.dtype !== 'f32') continue;
    const data = await gpu.read(t);
    const index = data.findIndex((x) => !Number.isFinite(x));
    if (index >= 0) found.push({ tensor: `activation ${t.label}`, index, size: data.length, value: data[index] });
  }
  const g = await gpu.read(grads);
  for (const s of adapter.slots) {
    for (const [which, offset, size] of [
      ['A', s.aOffset, adapter.config.r * s.inF],
      ['B', s.bOffset, s.outF * adapter.config.r],
    ] as const) {
      const part = g.subarray(offset, offset + size);
      const index = part.findIndex((x) => !Number.isFinite(x));
      if (index >= 0) found.push({ tensor: `the gradient of ${peftKey(s.path, which)}`, index, size, value: part[index] });
    }
  }
  return found;
}

const describe = (f: Found) => `${f.value} into ${f.tensor} (element ${f.index} of ${f.size})`;

/** The PEFT name of the LoRA tensor holding flat element `index` of the adapter's layout. */
function loraTensorAt(adapter: LoraAdapter, index: number): string {
  const { r } = adapter.config;
  for (const s of adapter.slots) {
    if (index >= s.aOffset && index < s.aOffset + r * s.inF) return peftKey(s.path, 'A');
    if (index >= s.bOffset && index < s.bOffset + s.outF * r) return peftKey(s.path, 'B');
  }
  return `element ${index}`;
}
