// The thin runtime: a GPUDevice from the caller, pipelines cached per device by kernel, entry
// point and constants, tensors, uniforms, bind groups, and recording many dispatches into one submit.

import { type CompileMessage, DeviceLostError, errorFilterOf, GpuValidationError, KernelCompileError, typedGpuError } from './errors.ts';
import { GpuLedger, type MemoryKind } from './ledger.ts';
import { type ConstValue, specialize } from './specialize.ts';
import { BINDING_ALIGN, bytesPerElement, type DType, type HalfDType, numel, Tensor } from './tensor.ts';

/** A WGSL source, the name errors and caches know it by (its file's), and an entry point ('main'). */
export interface Kernel {
  name: string;
  source: string;
  entryPoint?: string;
}

/** One dispatch of a kernel whose binding 0 is its uniform Params struct. */
export interface DispatchSpec {
  kernel: Kernel;
  consts?: Record<string, ConstValue>;
  /** Binding 0: the Params bytes (put in a new uniform buffer), or a uniform buffer the op rewrites later. */
  params: ArrayBuffer | GPUBuffer;
  /** Bindings 1, 2, ... in order. */
  bind: (Tensor | GPUBuffer)[];
  /** Workgroups the kernel indexes; `grid` folds them. */
  groups: number;
}

export interface GpuOptions {
  /**
   * Fold grids past this many workgroups per dimension, not the device's limit (it is clamped
   * to that). Tests set a tiny value so that tiny workloads exercise every kernel's folding.
   */
  maxWorkgroupsPerDimension?: number;
}

/** One recorded compute dispatch. Built once (pipeline, uniforms, bind group), replayed freely. */
export interface Dispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/** A buffer-to-buffer copy inside a recorded step (e.g. new keys into a KV cache). Offsets in elements. */
export interface Copy {
  readonly label: string;
  readonly copy: { src: Tensor; dst: Tensor; elements: number; srcOffset: number; dstOffset: number };
}

/** Zeroing a tensor inside a recorded step (e.g. the gradients after an update, in the update's submit). */
export interface Clear {
  readonly label: string;
  readonly clear: Tensor;
}

/** What a recorded step is made of. */
export type Command = Dispatch | Copy | Clear;

export type TypedArray = Float32Array | Uint32Array | Int32Array;

/** Features we use when the adapter has them; none is required. */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['subgroups', 'timestamp-query', 'shader-f16'];
/** Limits we raise to the adapter's maximum: big models want big buffers. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

interface CachedPipeline {
  source: string;
  pipeline: Promise<GPUComputePipeline>;
}

/**
 * Compiled pipelines of each device, shared by every Gpu wrapping it (tests wrap one device many
 * times, and compiling is the slow part). Weak: a destroyed, dropped device takes its cache along.
 */
/** The most bytes one queue.writeBuffer carries (Gpu.writeBytes): a multiple of 4, as writeBuffer's sizes must be. */
export const WRITE_CHUNK_BYTES = 4 << 20;

/** A shared scratch buffer that grows (Gpu.scratch) becomes at least this many times its last size, so few are made. */
export const SCRATCH_GROWTH = 2;

const PIPELINES = new WeakMap<GPUDevice, Map<string, CachedPipeline>>();

/** What every Gpu on one device shares about its errors (WebGPU's error scopes are per device). */
interface DeviceErrors {
  /** Settles when the last checked() call queued on the device is done; the next waits for it. */
  tail: Promise<void>;
  /** The kernel behind each pipeline and dispatch label, to name it in an uncaptured error. */
  kernels: Map<string, string>;
  /** Where errors no scope caught go; console.error until a caller sets Gpu.onError. */
  report: (err: Error) => void;
}

const DEVICE_ERRORS = new WeakMap<GPUDevice, DeviceErrors>();

/** Each device's ledger of live bytes and round trips, shared by every Gpu wrapping it. */
const LEDGERS = new WeakMap<GPUDevice, GpuLedger>();

function deviceLedger(device: GPUDevice): GpuLedger {
  const ledger = LEDGERS.get(device) ?? new GpuLedger();
  LEDGERS.set(device, ledger);
  return ledger;
}

/** The device's error state, listening for its uncaptured errors from the first Gpu on it. */
function deviceErrors(device: GPUDevice): DeviceErrors {
  const known = DEVICE_ERRORS.get(device);
  if (known) return known;
  const state: DeviceErrors = { tail: Promise.resolve(), kernels: new Map(), report: (err) => console.error(err) };
  device.addEventListener('uncapturederror', (e) => {
    const { error } = e as GPUUncapturedErrorEvent;
    e.preventDefault(); // reported here: the browser need not log it a second time
    state.report(typedGpuError(errorFilterOf(error), strayWork(error.message, state.kernels), error.message));
  });
  DEVICE_ERRORS.set(device, state);
  return state;
}

/** "GPU work outside Gpu.checked()", with the kernels and dispatches the message names by label. */
export function strayWork(message: string, kernels: ReadonlyMap<string, string>): string {
  const named = [...kernels].filter(([label]) => message.includes(`"${label}"`));
  const names = [...new Set(named.map(([, kernel]) => kernel))];
  return `GPU work outside Gpu.checked()${names.length > 0 ? ` (kernel ${names.join(', ')})` : ''}`;
}

/** A tensor's own buffer: rounded up to 16 bytes so that any tensor can also be bound as array<vec4f>. */
const tensorBytes = (shape: readonly number[], dtype: DType) => Math.max(16, Math.ceil((numel(shape) * bytesPerElement(dtype)) / 16) * 16);

export class Gpu {
  readonly hasSubgroups: boolean;
  readonly hasTimestamps: boolean;
  /** What `grid` folds at: the device's limit, or the smaller GpuOptions value. */
  readonly maxWorkgroupsPerDimension: number;
  /** Set when the device is lost; every later call throws it. */
  lost: DeviceLostError | undefined;
  /** Called once if the device is lost (the worker forwards it to the UI). */
  onLost: ((err: DeviceLostError) => void) | undefined;
  /** Live GPU bytes by kind, and dispatches, submits and host reads, for this device. */
  readonly ledger: GpuLedger;
  private readonly errors: DeviceErrors;
  /** Shared scratch by name (scratch()). */
  private readonly scratches = new Map<string, Tensor>();

  constructor(
    readonly device: GPUDevice,
    options: GpuOptions = {},
  ) {
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    const max = options.maxWorkgroupsPerDimension ?? limit;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxWorkgroupsPerDimension must be a positive integer, got ${max}`);
    this.maxWorkgroupsPerDimension = Math.min(max, limit);
    this.hasSubgroups = device.features.has('subgroups');
    this.hasTimestamps = device.features.has('timestamp-query');
    this.errors = deviceErrors(device);
    this.ledger = deviceLedger(device);
    device.lost.then((info) => {
      this.lost = new DeviceLostError(info.reason, info.message);
      this.onLost?.(this.lost);
    });
  }

  /** A device with the optional features this adapter has and its largest limits. */
  static async create(options: { powerPreference?: GPUPowerPreference } = {}): Promise<Gpu> {
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) {
      throw new Error(
        'WebGPU is not available here. Use a recent Chrome, Edge or Chromium (113+) on a page served over https or localhost.',
      );
    }
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) throw new Error('WebGPU found no GPU adapter. Check that hardware acceleration is enabled in the browser settings.');
    const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    const requiredLimits: Record<string, number> = {};
    for (const key of RAISED_LIMITS) requiredLimits[key] = adapter.limits[key];
    return new Gpu(await adapter.requestDevice({ requiredFeatures, requiredLimits }));
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /**
   * Receives, as GpuValidationError / GpuOutOfMemoryError / GpuInternalError, every error that no
   * error scope caught (work outside checked()), naming the kernel when the message has its label.
   * One per device, shared by every Gpu on it; console.error by default.
   */
  set onError(report: (err: Error) => void) {
    this.errors.report = report;
  }

  // ---- pipelines -------------------------------------------------------------------------

  /** The compute pipeline for `kernel` specialized with `consts`; compiled once per device and distinct key. */
  pipeline(kernel: Kernel, consts: Record<string, ConstValue> = {}): Promise<GPUComputePipeline> {
    this.assertAlive();
    const cache = PIPELINES.get(this.device) ?? new Map<string, CachedPipeline>();
    PIPELINES.set(this.device, cache);
    const entryPoint = kernel.entryPoint ?? 'main';
    const key = `${kernel.name}|${entryPoint}|${JSON.stringify(consts)}`;
    const hit = cache.get(key);
    if (hit) {
      // The key trusts the name; two sources under one name would silently share pipelines.
      if (hit.source !== kernel.source) throw new Error(`two different WGSL sources are both named kernel "${kernel.name}"`);
      return hit.pipeline;
    }
    const pipeline = this.compile(kernel, specialize(kernel.name, kernel.source, consts), entryPoint, key);
    const entry = { source: kernel.source, pipeline };
    cache.set(key, entry);
    pipeline.catch(() => {
      if (cache.get(key) === entry) cache.delete(key); // a failed compile is not cached
    });
    return pipeline;
  }

  private async compile(kernel: Kernel, code: string, entryPoint: string, label: string): Promise<GPUComputePipeline> {
    const module = this.device.createShaderModule({ code, label: kernel.name });
    this.errors.kernels.set(label, kernel.name);
    const info = await module.getCompilationInfo();
    const errors: CompileMessage[] = info.messages
      .filter((m) => m.type === 'error')
      .map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, message: m.message }));
    if (errors.length > 0) throw new KernelCompileError(kernel.name, errors, code);
    try {
      return await this.device.createComputePipelineAsync({
        label,
        layout: 'auto',
        compute: { module, entryPoint },
      });
    } catch (err) {
      throw new GpuValidationError(`creating the pipeline for kernel "${kernel.name}"`, (err as Error).message);
    }
  }

  /**
   * This Gpu for recording commands only to compile their pipelines: pipelines compile and are cached as here, and
   * nothing is allocated, written or bound (tensors, scratch, uniforms and bind groups are stand-ins, so what it records
   * must never run). A compiler needs working memory (LLVM in SwiftShader: up to ~350 MB for one matmul); Model.step
   * builds through this first so that it is not needed beside the buffers of the step being built.
   */
  compileOnly(): Gpu {
    const standIn = (size: number, label: string) => ({ size, label, destroy() {} }) as unknown as GPUBuffer;
    const tensor = (shape: readonly number[], label: string, dtype: DType = 'f32') =>
      new Tensor(standIn(tensorBytes(shape, dtype), label), shape, dtype, label);
    const overrides: Partial<Gpu> = {
      tensor,
      scratch: (name, elements) => tensor([elements], name),
      write() {},
      writeHalves() {},
      uniform: (bytes, label) => standIn(bytes.byteLength, label),
      bind: (_pipeline, label) => ({ label }) as GPUBindGroup,
    };
    return Object.assign(Object.create(this) as Gpu, overrides);
  }

  // ---- memory ----------------------------------------------------------------------------

  /** A zero-filled tensor with its own buffer, counted in the ledger as `kind`. */
  tensor(shape: readonly number[], label: string, dtype: DType = 'f32', kind: MemoryKind = 'other'): Tensor {
    this.assertAlive();
    const buffer = this.device.createBuffer({
      label,
      size: tensorBytes(shape, dtype),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    return new Tensor(this.ledger.track(buffer, kind), shape, dtype, label);
  }

  /**
   * `elements` float32 of scratch that every caller of the same `name` shares (matmul's split-K partials): for a
   * kernel's own intermediate, written and read within its dispatches, which may share because dispatches run in
   * queue order. A larger request makes a new buffer (at least SCRATCH_GROWTH times the last); commands recorded
   * before keep the buffer they bound, which was large enough for them.
   */
  scratch(name: string, elements: number): Tensor {
    let shared = this.scratches.get(name);
    if (!shared || shared.size < elements) {
      shared = this.tensor([Math.max(elements, SCRATCH_GROWTH * (shared?.size ?? 0))], name);
      this.scratches.set(name, shared);
    }
    return shared.view([elements]);
  }

  /** A tensor holding `data` (f32 unless `data` is a Uint32Array/Int32Array), counted as `kind`. */
  upload(data: TypedArray | readonly number[], shape: readonly number[], label: string, kind: MemoryKind = 'other'): Tensor {
    const typed = Array.isArray(data) ? Float32Array.from(data) : (data as TypedArray);
    if (typed.length !== numel(shape)) throw new RangeError(`upload ${label}: ${typed.length} values for shape [${shape}]`);
    const dtype: DType = typed instanceof Uint32Array ? 'u32' : typed instanceof Int32Array ? 'i32' : 'f32';
    const t = this.tensor(shape, label, dtype, kind);
    this.write(t, typed);
    return t;
  }

  /**
   * A bf16 or f16 tensor holding `halves` (each element's 16 bits, as in a safetensors file), packed
   * two to a word; for kernels that widen them as they read (matmul's B, the embedding table).
   */
  uploadHalves(halves: Uint16Array, dtype: HalfDType, shape: readonly number[], label: string, kind: MemoryKind = 'other'): Tensor {
    if (halves.length !== numel(shape)) throw new RangeError(`upload ${label}: ${halves.length} values for shape [${shape}]`);
    const t = this.tensor(shape, label, dtype, kind);
    this.writeHalves(t, halves);
    return t;
  }

  /**
   * 16-bit patterns into a bf16/f16 tensor from element `elementOffset` (even: halves are written a word at a time),
   * so that a large weight can be uploaded a block of rows at a time.
   */
  writeHalves(t: Tensor, halves: Uint16Array, elementOffset = 0): void {
    this.assertAlive();
    if (bytesPerElement(t.dtype) !== 2) throw new RangeError(`writeHalves ${t}: not a bf16/f16 tensor`);
    if (elementOffset % 2 !== 0) throw new RangeError(`writeHalves ${t}: element offset ${elementOffset} is odd`);
    if (elementOffset + halves.length > t.size)
      throw new RangeError(`writeHalves ${t}: ${halves.length} values at ${elementOffset} do not fit`);
    // writeBuffer wants whole words: an odd count gets a zero half after it.
    const even =
      halves.length % 2 === 0 && halves.byteOffset % 4 === 0
        ? halves
        : Uint16Array.from({ length: halves.length + (halves.length % 2) }, (_, i) => halves[i] ?? 0);
    this.writeBytes(t.buffer, t.byteOffset + elementOffset * 2, even);
  }

  write(t: Tensor, data: TypedArray, elementOffset = 0): void {
    this.assertAlive();
    if (bytesPerElement(t.dtype) !== 4) throw new RangeError(`write ${t}: a ${t.dtype} tensor is written by writeHalves`);
    if (elementOffset + data.length > t.size) throw new RangeError(`write ${t}: ${data.length} values at ${elementOffset} do not fit`);
    this.writeBytes(t.buffer, t.byteOffset + elementOffset * 4, data);
  }

  /**
   * `data` into `buffer` at `offset`, WRITE_CHUNK_BYTES at a time. One large writeBuffer costs a browser whole extra
   * copies of the data: Dawn's wire serializes a command past its transfer buffer into a temporary of the full size
   * in the page, the GPU process reassembles it into another, and Dawn stages it in a third; at a few MiB each, those
   * copies stay small and are reused (a 272 MB embedding otherwise cost about three times its size at once).
   */
  private writeBytes(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    for (let at = 0; at < data.byteLength; at += WRITE_CHUNK_BYTES) {
      const size = Math.min(WRITE_CHUNK_BYTES, data.byteLength - at);
      this.device.queue.writeBuffer(buffer, offset + at, data.buffer, data.byteOffset + at, size);
    }
  }

  /** Copy a tensor back to the CPU. Waits for all work submitted before it. */
  async read(t: Tensor): Promise<Float32Array>;
  async read(t: Tensor, as: 'u32'): Promise<Uint32Array>;
  async read(t: Tensor, as: 'i32'): Promise<Int32Array>;
  async read(t: Tensor, as: DType = t.dtype): Promise<TypedArray> {
    this.assertAlive();
    if (bytesPerElement(t.dtype) !== 4 && as !== 'u32')
      throw new RangeError(`read ${t}: a packed ${t.dtype} tensor reads back only as its 'u32' words`);
    const [bytes] = await this.submitAndRead(this.record(), [t]);
    return as === 'u32' ? new Uint32Array(bytes) : as === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /**
   * Run `commands` and read the float32 tensors `reads` as they leave them: one submit (the commands, then a copy of
   * each tensor) and one wait for the GPU, however many tensors. A step's outputs read this way cost one round trip.
   */
  async runAndRead(commands: readonly Command[], reads: readonly Tensor[]): Promise<Float32Array[]> {
    const [values] = await this.readStaged([this.runAndStage(commands, reads)]);
    return values;
  }

  /**
   * Run `commands` and copy the float32 tensors `reads` as they leave them into staging buffers, in one submit, without
   * waiting: readStaged maps them later, with other staged reads, in one host read. The trainer reads a step's
   * outputs this way while the next step's work is already queued, so the GPU never waits for the host between steps.
   */
  runAndStage(commands: readonly Command[], reads: readonly Tensor[]): StagedRead {
    this.assertAlive();
    for (const t of reads) if (t.dtype !== 'f32') throw new RangeError(`runAndRead ${t}: reads float32 tensors; read() takes the others`);
    const rec = this.record().run(commands);
    const staged = new StagedRead(reads.map((t) => this.stage(rec, t)));
    rec.submit();
    return staged;
  }

  /** The values of each staged read, in order, mapped all at once: one host read (one wait), however many. */
  async readStaged(reads: readonly StagedRead[]): Promise<Float32Array[][]> {
    const buffers = reads.map((r) => r.take());
    const bytes = await this.mapStaging(buffers.flat());
    const out: Float32Array[][] = [];
    let at = 0;
    for (const b of buffers) {
      out.push(bytes.slice(at, at + b.length).map((x) => new Float32Array(x)));
      at += b.length;
    }
    return out;
  }

  /** Copy each tensor into a staging buffer at the end of `rec`, submit it, map them all at once: one host read. */
  private async submitAndRead(rec: Recorder, tensors: readonly Tensor[]): Promise<ArrayBuffer[]> {
    const staging = tensors.map((t) => this.stage(rec, t));
    rec.submit();
    return this.mapStaging(staging);
  }

  /** A MAP_READ buffer that `rec` copies `t` into, counted in the ledger until it is read. */
  private stage(rec: Recorder, t: Tensor): GPUBuffer {
    const buffer = this.device.createBuffer({
      label: `read ${t.label}`,
      size: t.byteLength,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    rec.copyOut(t, this.ledger.track(buffer, 'other'));
    return buffer;
  }

  /** Map every staging buffer (one host read: one wait for the GPU), copy their bytes out and free them. */
  private async mapStaging(staging: readonly GPUBuffer[]): Promise<ArrayBuffer[]> {
    this.ledger.hostRead();
    try {
      await Promise.all(staging.map((b) => b.mapAsync(GPUMapMode.READ)));
    } catch (err) {
      for (const b of staging) b.destroy();
      this.assertAlive();
      throw err;
    }
    const out = staging.map((b) => b.getMappedRange().slice(0));
    for (const b of staging) b.destroy();
    return out;
  }

  /** A uniform buffer holding `bytes`; update it later with `device.queue.writeBuffer`. */
  uniform(bytes: ArrayBuffer, label: string): GPUBuffer {
    const buffer = this.ledger.track(
      this.device.createBuffer({ label, size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
      'other',
    );
    this.device.queue.writeBuffer(buffer, 0, bytes);
    return buffer;
  }

  /** A bind group for group 0 with one resource per binding, in binding order. */
  bind(pipeline: GPUComputePipeline, label: string, resources: (Tensor | GPUBuffer)[]): GPUBindGroup {
    const entries = resources.map((r, binding): GPUBindGroupEntry => {
      if (!(r instanceof Tensor)) return { binding, resource: { buffer: r } };
      if (r.byteOffset % BINDING_ALIGN !== 0)
        throw new RangeError(`${label}: ${r} starts at byte ${r.byteOffset}, not a multiple of ${BINDING_ALIGN}`);
      return { binding, resource: { buffer: r.buffer, offset: r.byteOffset, size: Math.max(16, Math.ceil(r.byteLength / 16) * 16) } };
    });
    return this.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
  }

  /**
   * Workgroup grid for `groups` workgroups, folded into y when x would pass
   * maxWorkgroupsPerDimension. Kernels recover the linear index as `wid.x + wid.y * nwg.x` and return when it is
   * `>= groups` (the whole workgroup at once, so barriers stay uniform).
   */
  grid(groups: number): [number, number, number] {
    const max = this.maxWorkgroupsPerDimension;
    if (groups <= max) return [Math.max(1, groups), 1, 1];
    const y = Math.ceil(groups / max);
    if (y > max) throw new RangeError(`${groups} workgroups do not fit a ${max} x ${max} grid`);
    return [Math.ceil(groups / y), y, 1];
  }

  /** Compile (or reuse) the pipeline, write the uniform, bind, and fold the grid: an op's dispatch. */
  async dispatch(label: string, spec: DispatchSpec): Promise<Dispatch> {
    const pipeline = await this.pipeline(spec.kernel, spec.consts);
    const params = spec.params instanceof ArrayBuffer ? this.uniform(spec.params, `${label} params`) : spec.params;
    this.errors.kernels.set(label, spec.kernel.name);
    return { label, pipeline, bindGroup: this.bind(pipeline, label, [params, ...spec.bind]), workgroups: this.grid(spec.groups) };
  }

  // ---- execution -------------------------------------------------------------------------

  /** Record commands (dispatches in one compute pass where possible) and submit them. */
  run(...commands: Command[]): void {
    this.record().run(commands).submit();
  }

  record(): Recorder {
    this.assertAlive();
    return new Recorder(this.device, this.ledger);
  }

  /** Resolves when the GPU has finished everything submitted so far. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  /**
   * Run `fn` inside validation, out-of-memory and internal error scopes and turn what they catch
   * into GpuValidationError / GpuOutOfMemoryError / GpuInternalError naming `label`. Scopes are a
   * stack per device that catch whatever runs while they are open, so the calls on one device
   * take turns: each starts when the one before has popped its scopes. So `fn` must not call
   * checked() on the same device (it would wait for itself), and work outside checked() that runs
   * meanwhile is still caught by the open scope.
   */
  async checked<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
    this.assertAlive();
    const before = this.errors.tail;
    let done = () => {};
    this.errors.tail = new Promise((resolve) => {
      done = resolve;
    });
    try {
      await before;
      this.assertAlive();
      return await this.scoped(label, fn);
    } finally {
      done();
    }
  }

  private async scoped<T>(label: string, fn: () => Promise<T> | T): Promise<T> {
    const filters = ['validation', 'out-of-memory', 'internal'] as const;
    for (const filter of filters) this.device.pushErrorScope(filter);
    let result: T | undefined;
    let thrown: unknown;
    try {
      result = await fn();
    } catch (err) {
      thrown = err;
    }
    const popped = new Map<GPUErrorFilter, GPUError | null>();
    for (const filter of [...filters].reverse()) popped.set(filter, await this.device.popErrorScope());
    this.assertAlive();
    if (thrown) throw thrown;
    // Out of memory first: it says what to do, and often causes the validation errors after it.
    for (const filter of ['out-of-memory', 'validation', 'internal'] as const) {
      const error = popped.get(filter);
      if (error) throw typedGpuError(filter, label, error.message);
    }
    return result as T;
  }

  destroy(): void {
    this.device.destroy();
  }

  private assertAlive(): void {
    if (this.lost) throw this.lost;
  }
}

/** Tensors copied out by a submit (Gpu.runAndStage), not yet waited for; Gpu.readStaged maps them, once. */
export class StagedRead {
  private buffers: GPUBuffer[] | null;

  constructor(buffers: GPUBuffer[]) {
    this.buffers = buffers;
  }

  /** Its staging buffers, handed over once (a read mapped twice would be a bug, so it says so). */
  take(): GPUBuffer[] {
    if (!this.buffers) throw new Error('a staged read was read twice');
    const out = this.buffers;
    this.buffers = null;
    return out;
  }

  /** Frees the staging buffers of a read that will never be read (a run that stops before reading it). */
  discard(): void {
    for (const b of this.buffers ?? []) b.destroy();
    this.buffers = null;
  }
}

/** Many dispatches in one compute pass (WebGPU orders them and makes writes visible in order). */
export class Recorder {
  private readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;

  constructor(
    private readonly device: GPUDevice,
    private readonly ledger: GpuLedger,
  ) {
    this.encoder = device.createCommandEncoder();
  }

  run(commands: readonly Command[]): this {
    for (const c of commands) {
      if ('copy' in c) this.copy(c.copy.src, c.copy.dst, c.copy.elements, c.copy.srcOffset, c.copy.dstOffset);
      else if ('clear' in c) this.clear(c.clear);
      else this.dispatch(c);
    }
    return this;
  }

  dispatch(...dispatches: Dispatch[]): this {
    this.pass ??= this.encoder.beginComputePass();
    for (const d of dispatches) {
      this.pass.setPipeline(d.pipeline);
      this.pass.setBindGroup(0, d.bindGroup);
      this.pass.dispatchWorkgroups(...d.workgroups);
    }
    this.ledger.dispatched(dispatches.length);
    return this;
  }

  /** Copy all of `src` into `dst` (same size), between passes. */
  copy(src: Tensor, dst: Tensor, elements = src.size, srcOffset = 0, dstOffset = 0): this {
    this.endPass();
    this.encoder.copyBufferToBuffer(src.buffer, src.byteOffset + srcOffset * 4, dst.buffer, dst.byteOffset + dstOffset * 4, elements * 4);
    return this;
  }

  /** Copy all of `t` into `staging` (a MAP_READ buffer of its size), between passes. */
  copyOut(t: Tensor, staging: GPUBuffer): this {
    this.endPass();
    this.encoder.copyBufferToBuffer(t.buffer, t.byteOffset, staging, 0, t.byteLength);
    return this;
  }

  /** Zero a tensor (e.g. gradients before an accumulation window), between passes. */
  clear(t: Tensor): this {
    this.endPass();
    this.encoder.clearBuffer(t.buffer, t.byteOffset, Math.ceil(t.byteLength / 4) * 4);
    return this;
  }

  submit(): void {
    this.endPass();
    this.device.queue.submit([this.encoder.finish()]);
    this.ledger.submitted();
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }
}
