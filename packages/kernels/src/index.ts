// @webtune/kernels: WGSL kernels for a LoRA training step, and the runtime that dispatches them.

export * from './ops/matmul/matmul.ts';
export * from './runtime/errors.ts';
export { type Dispatch, Gpu, type Kernel, Recorder, type TypedArray } from './runtime/gpu.ts';
export { specialize } from './runtime/specialize.ts';
export { BINDING_ALIGN, type DType, numel, shapeStr, Tensor } from './runtime/tensor.ts';
export { UniformWriter } from './runtime/uniform.ts';
