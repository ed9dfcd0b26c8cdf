// The runtime's pipeline cache on a real device: shared by every Gpu on one device, told apart
// by entry point, and compile errors named after the kernel's file.
import { gpuTest } from '@webtune/harness/page';
import { DeviceLostError, GpuValidationError, KernelCompileError } from './errors.ts';
import { Gpu } from './gpu.ts';

const SOURCE = `
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn one() { x[0] = 1.0; }
@compute @workgroup_size(1) fn two() { x[0] = 2.0; }`;

gpuTest('pipelines are cached per device and entry point', async ({ device }) => {
  const [a, b] = [new Gpu(device), new Gpu(device, { maxWorkgroupsPerDimension: 3 })];
  const one = { name: 'cache_test', source: SOURCE, entryPoint: 'one' };
  const two = { name: 'cache_test', source: SOURCE, entryPoint: 'two' };
  if ((await a.pipeline(one)) !== (await b.pipeline(one))) throw new Error('a second Gpu on the device compiled the pipeline again');
  if ((await a.pipeline(one)) === (await a.pipeline(two))) throw new Error('two entry points of one file share a pipeline');
  const x = a.tensor([1], 'x');
  const pipeline = await b.pipeline(two);
  a.run({ label: 'two', pipeline, bindGroup: a.bind(pipeline, 'two', [x]), workgroups: [1, 1, 1] });
  const [got] = await a.read(x);
  if (got !== 2) throw new Error(`entry point two wrote ${got}, not 2`);
  x.buffer.destroy();
  // pipeline() may throw before it returns its promise: call it inside an async function.
  const clash = await (async () => a.pipeline({ name: 'cache_test', source: `${SOURCE}\n`, entryPoint: 'one' }))().catch((e: Error) => e);
  if (!(clash instanceof Error) || !clash.message.includes('two different WGSL sources are both named kernel "cache_test"')) {
    throw new Error(`a different source under a cached name gave ${clash}`);
  }
});

gpuTest('the ledger counts a real buffer until destroy, and a read as one submit and one host read', async ({ device }) => {
  const gpu = new Gpu(device);
  const before = gpu.ledger.memory.current.weights;
  const counts = gpu.ledger.countsSoFar;
  const w = gpu.upload(new Float32Array(1000), [1000], 'w', 'weights');
  if (gpu.ledger.memory.current.weights - before !== 4000)
    throw new Error(`4000 weight bytes counted as ${gpu.ledger.memory.current.weights - before}`);
  const [zero] = await gpu.read(w);
  if (zero !== 0) throw new Error(`read ${zero}`);
  const { submits, hostReads } = gpu.ledger.countsSoFar;
  if (submits - counts.submits !== 1 || hostReads - counts.hostReads !== 1)
    throw new Error(`read counted ${submits - counts.submits} submits, ${hostReads - counts.hostReads} reads`);
  w.buffer.destroy();
  if (gpu.ledger.memory.current.weights !== before) throw new Error('destroy() of a real GPUBuffer was not counted');
});

gpuTest('runAndRead runs the commands and reads every tensor as they left it: one submit and one host read', async ({ device }) => {
  const gpu = new Gpu(device);
  const [x, y] = [gpu.upload([5, 6], [2], 'x'), gpu.upload([7], [1], 'y')];
  const pipeline = await gpu.pipeline({ name: 'cache_test', source: SOURCE, entryPoint: 'two' });
  const counts = gpu.ledger.countsSoFar;
  gpu.ledger.resetPeak(); // count what runAndRead adds, whatever earlier tests' uniforms the collector frees meanwhile
  const [a, b] = await gpu.runAndRead(
    [{ label: 'two', pipeline, bindGroup: gpu.bind(pipeline, 'two', [x]), workgroups: [1, 1, 1] }],
    [x, y],
  );
  if (a.join() !== '2,6' || b.join() !== '7') throw new Error(`read [${a}] and [${b}], expected [2,6] and [7]`);
  const { submits, hostReads } = gpu.ledger.countsSoFar;
  if (submits - counts.submits !== 1 || hostReads - counts.hostReads !== 1)
    throw new Error(`runAndRead counted ${submits - counts.submits} submits, ${hostReads - counts.hostReads} reads`);
  const { added, peakAdded } = gpu.ledger.memory;
  if (peakAdded === 0 || added !== 0) throw new Error(`staging buffers: ${peakAdded} B counted, ${added} B not let go`);
  const h = gpu.tensor([2], 'h', 'bf16');
  const packed = await gpu.runAndRead([], [h]).catch((e: Error) => e);
  if (!(packed instanceof RangeError) || !packed.message.includes('reads float32 tensors')) throw new Error(`a bf16 read gave ${packed}`);
  for (const t of [x, y, h]) t.buffer.destroy();
});

gpuTest('runAndStage copies as the submit leaves them, no wait; readStaged maps several submits in one host read', async ({ device }) => {
  const gpu = new Gpu(device);
  const x = gpu.upload([5, 6], [2], 'x');
  const pipeline = await gpu.pipeline({ name: 'cache_test', source: SOURCE, entryPoint: 'two' });
  const two = { label: 'two', pipeline, bindGroup: gpu.bind(pipeline, 'two', [x]), workgroups: [1, 1, 1] as [number, number, number] };
  const counts = gpu.ledger.countsSoFar;
  const first = gpu.runAndStage([], [x]); // x as it is now, before the next submit overwrites it
  const second = gpu.runAndStage([two], [x]);
  const staged = gpu.ledger.countsSoFar;
  if (staged.submits - counts.submits !== 2 || staged.hostReads !== counts.hostReads)
    throw new Error(`two runAndStage counted ${staged.submits - counts.submits} submits, ${staged.hostReads - counts.hostReads} reads`);
  const [[a], [b]] = await gpu.readStaged([first, second]);
  if (a.join() !== '5,6' || b.join() !== '2,6') throw new Error(`staged [${a}] then [${b}], expected [5,6] then [2,6]`);
  if (gpu.ledger.countsSoFar.hostReads - counts.hostReads !== 1) throw new Error('readStaged of two reads was not one host read');
  const again = await gpu.readStaged([first]).catch((e: Error) => e);
  if (!(again instanceof Error) || !again.message.includes('read twice')) throw new Error(`a second read of one staged read gave ${again}`);
  x.buffer.destroy();
});

gpuTest('a compile error points into the file by its kernel name', async ({ device }) => {
  const gpu = new Gpu(device);
  const source = `${SOURCE}\n@compute @workgroup_size(1) fn three() { x[0] = nope; }`;
  // checked(): the browser also reports the bad module as a validation error; keep it in scope.
  const err = await gpu
    .checked('compile', () => gpu.pipeline({ name: 'broken_test', source, entryPoint: 'three' }))
    .catch((e: unknown) => e);
  if (!(err instanceof KernelCompileError) || !/broken_test\.wgsl:5:\d+: error/.test(err.message)) {
    throw new Error(`expected a KernelCompileError at broken_test.wgsl:5, got ${err}`);
  }
});

gpuTest('a WebGPU validation error inside checked() becomes a GpuValidationError naming the work', async ({ device }) => {
  const gpu = new Gpu(device);
  const x = gpu.tensor([4], 'x');
  const pipeline = await gpu.pipeline({ name: 'cache_test', source: SOURCE, entryPoint: 'one' });
  const bindGroup = gpu.bind(pipeline, 'one', [x]);
  x.buffer.destroy(); // submitting work that uses a destroyed buffer is a validation error
  const err = await gpu
    .checked('the test step', () => gpu.run({ label: 'one', pipeline, bindGroup, workgroups: [1, 1, 1] }))
    .catch((e: unknown) => e);
  if (!(err instanceof GpuValidationError) || !err.message.startsWith('WebGPU validation error during the test step: ')) {
    throw new Error(`expected a GpuValidationError naming the step, got ${err}`);
  }
});

gpuTest('a lost device is reported with its reason, and every later call says so', async () => {
  // A device of its own: the runner's shared device must survive the test.
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no second adapter');
  const device = await adapter.requestDevice();
  const gpu = new Gpu(device);
  let reported: DeviceLostError | undefined;
  gpu.onLost = (e) => {
    reported = e;
  };
  device.destroy();
  await device.lost;
  await new Promise((r) => setTimeout(r, 0)); // let the runtime's lost handler run
  if (!(reported instanceof DeviceLostError) || reported.reason !== 'destroyed') throw new Error(`onLost got ${reported}`);
  let thrown: unknown;
  try {
    gpu.tensor([4], 'after');
  } catch (e) {
    thrown = e;
  }
  if (!(thrown instanceof DeviceLostError)) throw new Error(`a call after the loss threw ${thrown}`);
});

const PARAMS_SOURCE = `
struct Params { v: f32, _pad0: f32, _pad1: f32, _pad2: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(1) fn main() { x[0] = p.v; }`;

gpuTest('an error outside checked() reaches onError as a typed error naming the kernel', async () => {
  // A device of its own: the runner's error scopes around each test would catch the error.
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no second adapter');
  const device = await adapter.requestDevice();
  try {
    const gpu = new Gpu(device);
    const seen: Error[] = [];
    gpu.onError = (e) => seen.push(e);
    const x = gpu.tensor([1], 'x');
    const params = new Float32Array([1, 0, 0, 0]).buffer;
    const a = await gpu.dispatch('first op', { kernel: { name: 'stray_a', source: PARAMS_SOURCE }, params, bind: [x], groups: 1 });
    const b = await gpu.dispatch('second op', { kernel: { name: 'stray_b', source: PARAMS_SOURCE }, params, bind: [x], groups: 1 });
    // Layouts made by 'auto' belong to their pipeline: a's pipeline with b's bind group is invalid.
    gpu.run({ ...a, bindGroup: b.bindGroup });
    await device.queue.onSubmittedWorkDone();
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const [err] = seen;
    if (!(err instanceof GpuValidationError)) throw new Error(`onError got ${seen.length ? seen : 'nothing'}`);
    if (!err.message.startsWith('WebGPU validation error during GPU work outside Gpu.checked() (kernel stray_a, stray_b): ')) {
      throw new Error(`the error does not name the kernels: ${err.message}`);
    }
  } finally {
    device.destroy();
  }
});
