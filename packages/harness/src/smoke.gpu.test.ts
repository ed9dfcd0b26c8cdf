// The harness's own proof that WGSL runs in the browser and its numbers come back intact:
// a compute shader evaluates y = a*x^2 + b*x + c per element and a workgroup tree-sum,
// both checked against the same formula computed in float64 on the CPU.
import { assertAllClose, gpuTest, reductionTolerance } from './page/index.ts';

const SHADER = /* wgsl */ `
struct Params { a: f32, b: f32, c: f32, n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;  // one sum per workgroup

var<workgroup> acc: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3u) {
  var v = 0.0;
  if (gid.x < p.n) {
    let xi = x[gid.x];
    v = (p.a * xi + p.b) * xi + p.c;
    y[gid.x] = v;
  }
  acc[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) { acc[lid] += acc[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partial[wid.x] = acc[0]; }
}`;

function upload(device: GPUDevice, data: Float32Array | Uint32Array, usage: GPUBufferUsageFlags): GPUBuffer {
  const buffer = device.createBuffer({ size: data.byteLength, usage, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

async function readBack(device: GPUDevice, src: GPUBuffer): Promise<Float32Array> {
  const staging = device.createBuffer({ size: src.size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, src.size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

gpuTest('WGSL polynomial and workgroup sum match the CPU', async ({ device }) => {
  const n = 1000; // not a multiple of the workgroup size: the tail must be masked
  const [a, b, c] = [0.75, -1.5, 2.25];
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 3);
  const groups = Math.ceil(n / 64);

  const params = new ArrayBuffer(16);
  new Float32Array(params, 0, 3).set([a, b, c]);
  new Uint32Array(params, 12, 1)[0] = n;
  const uniform = upload(device, new Uint32Array(params), GPUBufferUsage.UNIFORM);
  const xBuf = upload(device, x, GPUBufferUsage.STORAGE);
  const yBuf = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const partBuf = device.createBuffer({ size: groups * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });

  const module = device.createShaderModule({ code: SHADER });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [uniform, xBuf, yBuf, partBuf].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(groups);
  pass.end();
  device.queue.submit([enc.finish()]);

  const y = await readBack(device, yBuf);
  const partial = await readBack(device, partBuf);
  const yRef = Array.from(x, (xi) => (a * xi + b) * xi + c);
  const partialRef = Array.from({ length: groups }, (_, g) => yRef.slice(g * 64, g * 64 + 64).reduce((s, v) => s + v, 0));
  const magnitude = Array.from({ length: groups }, (_, g) => yRef.slice(g * 64, g * 64 + 64).reduce((s, v) => s + Math.abs(v), 0));
  assertAllClose(y, yRef, { atol: 1e-6, rtol: 1e-6 }, 'y');
  assertAllClose(partial, partialRef, reductionTolerance(64, magnitude), 'workgroup sums');
  for (const buffer of [uniform, xBuf, yBuf, partBuf]) buffer.destroy();
});
