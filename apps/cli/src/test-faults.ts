// Faults on demand, for the end-to-end tests that prove the CLI reports them well; unset, the CLI serves its pages
// unchanged.
// - A GPU allocation that fails (the message says what to lower, no step is logged, nothing is written). A real
//   out-of-memory cannot be provoked on demand on SwiftShader, so with WEBTUNE_TEST_GPU_FAULT=out-of-memory:<label regex>
//   the trainer's worker reports one from the out-of-memory error scope open when the first buffer whose label matches
//   is made (the scopes are still pushed and popped for real, as trainer.gpu.test.ts does in the page).
// - The CLI page's script refused as vite's dev server refuses a module while another server rebuilds the shared
//   dependency cache (504 Outdated Optimize Dep): WEBTUNE_TEST_PAGE_FAULT=outdated-dep:<n> answers the first n
//   requests for it so. The page's loader reloads it then (engine.ts startPage), whatever server the page comes from.
// Both are handlers of the page server in front of the built page's files (page-bundle.ts): the same files and server
// as without them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestHandler } from '@webtune/harness';
import { UsageError } from './args.ts';
import type { PageBundle } from './page-bundle.ts';

export const GPU_FAULT_VARIABLE = 'WEBTUNE_TEST_GPU_FAULT';

/** Whether a request asks for the bundle's file at `path` (relative to the bundle's folder). */
const asksFor = (url: string | undefined, path: string) => (url ?? '').split('?')[0] === `/${path}`;

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

/**
 * The handler that serves the trainer's worker script with the fault named by `spec` (WEBTUNE_TEST_GPU_FAULT) in
 * front of it, or none when it is unset. (A module's imports are hoisted: the prelude runs before the worker's body.)
 */
export function gpuFault(bundle: PageBundle, spec = process.env[GPU_FAULT_VARIABLE]): RequestHandler[] {
  if (!spec) return [];
  const m = /^out-of-memory:(.+)$/.exec(spec);
  if (!m) throw new UsageError(`${GPU_FAULT_VARIABLE}=${spec}: give out-of-memory:<regular expression of a buffer label>`);
  const label = new RegExp(m[1]);
  return [
    (req, res) => {
      if (!asksFor(req.url, bundle.worker)) return false;
      const code = prelude(label) + readFileSync(join(bundle.dir, bundle.worker), 'utf8');
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' }).end(code);
      return true;
    },
  ];
}

export const PAGE_FAULT_VARIABLE = 'WEBTUNE_TEST_PAGE_FAULT';

/** The handler that refuses the CLI page's script `n` times (WEBTUNE_TEST_PAGE_FAULT=outdated-dep:<n>), or none. */
export function pageFault(bundle: PageBundle, spec = process.env[PAGE_FAULT_VARIABLE]): RequestHandler[] {
  if (!spec) return [];
  const m = /^outdated-dep:(\d+)$/.exec(spec);
  if (!m) throw new UsageError(`${PAGE_FAULT_VARIABLE}=${spec}: give outdated-dep:<how many times>`);
  let left = Number(m[1]);
  return [
    (req, res) => {
      if (left === 0 || !asksFor(req.url, bundle.script)) return false;
      left--;
      res.statusCode = 504;
      res.statusMessage = 'Outdated Optimize Dep';
      res.end();
      return true;
    },
  ];
}
