import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestHandler } from '@webtune/harness';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from './args.ts';
import type { PageBundle } from './page-bundle.ts';
import { GPU_FAULT_VARIABLE, gpuFault, PAGE_FAULT_VARIABLE, pageFault } from './test-faults.ts';

const dir = mkdtempSync(join(tmpdir(), 'webtune-faults-test-'));
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'assets/worker-abc.js'), 'export {};');
const bundle: PageBundle = { dir, script: 'assets/index-xyz.js', worker: 'assets/worker-abc.js' };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a handler does with a request for `url`: undefined when it leaves it to the next one. */
function ask(handler: RequestHandler, url: string) {
  const answer = { status: 200, message: '', body: '' };
  const res = {
    set statusCode(s: number) {
      answer.status = s;
    },
    set statusMessage(m: string) {
      answer.message = m;
    },
    writeHead(status: number) {
      answer.status = status;
      return res;
    },
    end(body?: string) {
      answer.body = body ?? '';
    },
  };
  return handler({ url } as IncomingMessage, res as unknown as ServerResponse) ? answer : undefined;
}

describe('gpuFault', () => {
  it('adds nothing when the variable is unset', () => {
    expect(gpuFault(bundle, undefined)).toEqual([]);
    expect(gpuFault(bundle, '')).toEqual([]);
  });

  it("serves the bundle's trainer worker with the fault in front, with the label pattern given; nothing else", () => {
    const [handler] = gpuFault(bundle, 'out-of-memory:^logits$');
    const worker = ask(handler, '/assets/worker-abc.js?type=module');
    expect(worker?.body).toMatch(/^\{\n {2}const label = \/\^logits\$\/;/);
    expect(worker?.body.endsWith('export {};')).toBe(true);
    expect(ask(handler, '/assets/index-xyz.js')).toBeUndefined();
    expect(ask(handler, '/apps/cli/page/index.html')).toBeUndefined();
  });

  it('refuses a spec it does not know, saying the form it takes', () => {
    expect(() => gpuFault(bundle, 'device-lost')).toThrow(UsageError);
    expect(() => gpuFault(bundle, 'device-lost')).toThrow(
      `${GPU_FAULT_VARIABLE}=device-lost: give out-of-memory:<regular expression of a buffer label>`,
    );
  });
});

describe('pageFault', () => {
  it("refuses the bundle's page script n times with 504 Outdated Optimize Dep, then leaves it to the files", () => {
    expect(pageFault(bundle, undefined)).toEqual([]);
    const [handler] = pageFault(bundle, 'outdated-dep:2');
    expect(ask(handler, '/assets/worker-abc.js')).toBeUndefined();
    for (let i = 0; i < 2; i++)
      expect(ask(handler, '/assets/index-xyz.js')).toEqual({ status: 504, message: 'Outdated Optimize Dep', body: '' });
    expect(ask(handler, '/assets/index-xyz.js')).toBeUndefined();
  });

  it('refuses a spec it does not know, saying the form it takes', () => {
    expect(() => pageFault(bundle, 'outdated-dep')).toThrow(`${PAGE_FAULT_VARIABLE}=outdated-dep: give outdated-dep:<how many times>`);
  });
});
