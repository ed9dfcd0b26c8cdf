// The libraries the kernel bench times beside webtune: tfjs-backend-webgpu and jax-js. This module is imported only
// where they run (the browser page, by kernel-bench.ts); on Dawn in Node the bench reports them as skipped instead.
import { getWebGPUDevice, init, numpy as np } from '@jax-js/jax';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import * as tf from '@tensorflow/tfjs-core';

/** A peer that does not run here, and why: shown as a row, never left out. */
export interface Skipped {
  name: MatmulPeer['name'];
  skipped: string;
}

/** One matmul problem, set up once in a peer's own tensors: `run` queues the product, `result` reads one back. */
export interface PeerMatmul {
  run(): void | Promise<void>;
  result(): Promise<Float32Array>;
  dispose(): void;
}

export interface MatmulOperands {
  a: Float32Array;
  aShape: [number, number];
  b: Float32Array;
  bShape: [number, number];
  transA: boolean;
  transB: boolean;
}

export interface MatmulPeer {
  name: 'tfjs-webgpu' | 'jax-js';
  /** The device whose queue the peer's work goes to: timeGpu waits on it. */
  device: GPUDevice;
  /** Submits what the peer has recorded but not submitted. */
  flush(): void;
  matmul(operands: MatmulOperands): PeerMatmul;
}

let tfReady: Promise<WebGPUBackend> | undefined;
function tfBackend(device: GPUDevice): Promise<WebGPUBackend> {
  tfReady ??= (async () => {
    tf.env().set('WEBGPU_CPU_FORWARD', false); // keep every op on the GPU, however small
    // tfjs registers its kernels under the name 'webgpu'; swap that backend's factory for one
    // that uses our device, so both libraries share a queue and one timing method covers both.
    const backend = new WebGPUBackend(device);
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => backend);
    await tf.setBackend('webgpu');
    return backend;
  })();
  return tfReady;
}

/**
 * Submit what tfjs has recorded: it keeps a compute pass open across ops, so end that first. tfjs may
 * already have submitted on its own (it flushes every N dispatches), leaving nothing to submit.
 */
function flushTfjs(backend: WebGPUBackend): void {
  if (!(backend as unknown as { commandEncoder: GPUCommandEncoder | null }).commandEncoder) return;
  backend.endComputePassEncoder();
  backend.submitQueue();
}

export type TfjsPeer = MatmulPeer & { tf: typeof tf };

/** tfjs on webtune's own device (same queue), and its ops for the bandwidth bench. */
export async function tfjsPeer(device: GPUDevice): Promise<TfjsPeer> {
  const backend = await tfBackend(device);
  return {
    name: 'tfjs-webgpu',
    device,
    tf,
    flush: () => flushTfjs(backend),
    matmul({ a, aShape, b, bShape, transA, transB }) {
      const ta = tf.tensor2d(a, aShape);
      const tb = tf.tensor2d(b, bShape);
      return {
        run: () => tf.dispose(tf.matMul(ta, tb, transA, transB)),
        async result() {
          const c = tf.matMul(ta, tb, transA, transB);
          const data = await c.data<'float32'>();
          c.dispose();
          return data;
        },
        dispose: () => tf.dispose([ta, tb]),
      };
    },
  };
}

let jaxReady: Promise<MatmulPeer | Skipped> | undefined;
/**
 * jax-js on WebGPU. Its public API takes no device: init('webgpu') requests its own GPUDevice from the page's adapter
 * (navigator.gpu, high-performance), so it runs on a second device of the same adapter and is timed on that device's
 * queue. Ops are lazy: `gpuBuffer()` submits an array's pending kernels without waiting for them (each jax-js dispatch
 * is its own queue.submit), so repeated runs queue up as tfjs's do, and onSubmittedWorkDone ends a round.
 */
export function jaxPeer(): Promise<MatmulPeer | Skipped> {
  jaxReady ??= (async () => {
    const devices = await init('webgpu');
    if (!devices.includes('webgpu')) {
      return { name: 'jax-js', skipped: `jax-js found no WebGPU device here: init('webgpu') left only ${devices.join(', ')}` };
    }
    return {
      name: 'jax-js',
      device: getWebGPUDevice(),
      flush: () => {},
      matmul({ a, aShape, b, bShape, transA, transB }) {
        const ja = np.array(a, { shape: aShape, device: 'webgpu' });
        const jb = np.array(b, { shape: bShape, device: 'webgpu' });
        // .ref keeps the operands alive (jax-js functions take ownership); a transpose is a view, as `a.T @ b` in JAX.
        const product = () => np.matmul(transA ? ja.ref.transpose() : ja.ref, transB ? jb.ref.transpose() : jb.ref);
        return {
          async run() {
            await product().gpuBuffer();
          },
          result: async () => (await product().data()) as Float32Array,
          dispose() {
            ja.dispose();
            jb.dispose();
          },
        };
      },
    } satisfies MatmulPeer;
  })();
  return jaxReady;
}
