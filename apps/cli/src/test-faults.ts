// A GPU fault on demand, for the end-to-end tests that prove a failed allocation reaches the user well through the CLI
// (the message says what to lower, no step is logged, nothing is written). A real out-of-memory cannot be provoked on
// demand on SwiftShader, so with WEBTUNE_TEST_GPU_FAULT=out-of-memory:<label regex> the trainer's worker reports one
// from the out-of-memory error scope open when the first buffer whose label matches is made (the scopes are still
// pushed and popped for real, as trainer.gpu.test.ts does in the page). Unset, the CLI serves its pages unchanged.
import type { Plugin } from 'vite';
import { UsageError } from './args.ts';

export const GPU_FAULT_VARIABLE = 'WEBTUNE_TEST_GPU_FAULT';
const WORKER = /\/packages\/trainer\/src\/worker\.ts(\?|$)/;

/** The worker's prelude: wraps GPUDevice's error scopes and buffer creation to inject one out-of-memory error. */
function prelude(label: RegExp): string {
  return `{
  const label = ${label};
  const device = GPUDevice.prototype;
  const { pushErrorScope, popErrorScope, createBuffer } = device;
  const open = new WeakMap();
  let injected = false;
  device.pushErrorScope = function (filter) {
    if (!open.has(this)) open.set(this, []);
    open.get(this).push({ filter, fault: null });
    return pushErrorScope.call(this, filter);
  };
  device.createBuffer = function (descriptor) {
    const scope = open.get(this)?.findLast((s) => s.filter === 'out-of-memory');
    if (!injected && scope && label.test(descriptor.label ?? '')) {
      injected = true;
      scope.fault = 'injected by ${GPU_FAULT_VARIABLE}: no memory for buffer "' + descriptor.label + '" of ' + descriptor.size + ' bytes';
    }
    return createBuffer.call(this, descriptor);
  };
  device.popErrorScope = async function () {
    const scope = open.get(this)?.pop();
    const real = await popErrorScope.call(this);
    return scope?.fault ? { message: scope.fault } : real;
  };
}
`;
}

/** The vite plugin that injects the fault named by `spec` (WEBTUNE_TEST_GPU_FAULT), or none when it is unset. */
export function gpuFault(spec = process.env[GPU_FAULT_VARIABLE]): Plugin[] {
  if (!spec) return [];
  const m = /^out-of-memory:(.+)$/.exec(spec);
  if (!m) throw new UsageError(`${GPU_FAULT_VARIABLE}=${spec}: give out-of-memory:<regular expression of a buffer label>`);
  const label = new RegExp(m[1]);
  return [
    {
      name: 'webtune-test-gpu-fault',
      transform(code, id) {
        return WORKER.test(id) ? { code: prelude(label) + code, map: null } : undefined;
      },
    },
  ];
}
