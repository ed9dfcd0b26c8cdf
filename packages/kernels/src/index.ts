// @webtune/kernels: WGSL kernels for a LoRA training step, and the runtime that dispatches them.

export * from './ops/adamw/adamw.ts';
export * from './ops/attention/attention.ts';
export * from './ops/cross_entropy/cross_entropy.ts';
export * from './ops/dpo_loss/dpo_loss.ts';
export * from './ops/dropout/dropout.ts';
export { add, addBias, axpy, biasGrad, fill, scale, softcap } from './ops/elementwise/elementwise.ts';
export * from './ops/embedding/embedding.ts';
export * from './ops/geglu/geglu.ts';
export * from './ops/kto_loss/kto_loss.ts';
export * from './ops/matmul/matmul.ts';
export * from './ops/nonfinite/nonfinite.ts';
export * from './ops/rmsnorm/rmsnorm.ts';
export * from './ops/rope/rope.ts';
export * from './ops/softmax/softmax.ts';
export * from './ops/sumsq/sumsq.ts';
export * from './ops/swiglu/swiglu.ts';
export * from './runtime/errors.ts';
export {
  type Clear,
  type Command,
  type Copy,
  type Dispatch,
  type DispatchSpec,
  Gpu,
  type GpuOptions,
  type Kernel,
  Recorder,
  SCRATCH_GROWTH,
  StagedRead,
  type TypedArray,
} from './runtime/gpu.ts';
export {
  type BytesByKind,
  countsBetween,
  type GpuCounts,
  GpuLedger,
  MEMORY_KINDS,
  type MemoryKind,
  type MemoryReport,
} from './runtime/ledger.ts';
// Seeded randomness, for anything that must replay exactly (adapter init, shuffles, dropout seeds, sampling).
export { mixSeed, seededRandom } from './runtime/random.ts';
export { specialize } from './runtime/specialize.ts';
export { BINDING_ALIGN, bytesPerElement, type DType, numel, shapeStr, Tensor } from './runtime/tensor.ts';
export { UNIFORM_MAX_BYTES, UniformWriter } from './runtime/uniform.ts';
