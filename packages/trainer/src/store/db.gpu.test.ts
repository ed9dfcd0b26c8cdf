// The Store against a real IndexedDB, in headless Chromium (the GPU device is not used). Each test opens its own
// database under a unique name and deletes it afterwards.
import { assertAllClose, gpuTest } from '@webtune/harness/page';
import { hashKey } from '../hash.ts';
import type { LoraConfig } from '../model/lora.ts';
import { type AdapterRecord, type CheckpointRecord, StorageError, type StorageErrorKind, Store } from './db.ts';

const lora: LoraConfig = { r: 2, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: true };

function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

function eq(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: got ${a}, expected ${e}`);
}

/** Bit-exact: NaN payloads, -0 and infinities included. */
function sameFloats(actual: unknown, expected: Float32Array, what: string): void {
  check(actual instanceof Float32Array, `${what}: got ${Object.prototype.toString.call(actual)}, expected a Float32Array`);
  eq(
    Array.from(new Uint32Array(actual.buffer, actual.byteOffset, actual.length)),
    Array.from(new Uint32Array(expected.slice().buffer)),
    what,
  );
}

async function rejects(promise: Promise<unknown>, kind: StorageErrorKind, pattern: RegExp, what: string): Promise<StorageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  check(err instanceof StorageError, `${what}: expected a StorageError, got ${err === undefined ? 'success' : String(err)}`);
  check(err.kind === kind, `${what}: kind ${err.kind}, expected ${kind} (${err.message})`);
  check(pattern.test(err.message), `${what}: message "${err.message}" does not match ${pattern}`);
  return err;
}

async function withStore(fn: (store: Store, name: string) => Promise<void>): Promise<void> {
  const name = `webtune-test-${crypto.randomUUID()}`;
  const store = await Store.open(name);
  try {
    await fn(store, name);
  } finally {
    store.close();
    await Store.deleteDatabase(name);
  }
}

let seed = 7;
function next(): number {
  seed = (seed * 16807) % 2147483647;
  return (seed / 2147483647) * 2 - 1;
}
const noise = (n: number) => Float32Array.from({ length: n }, next);

function adapter(id: string, overrides: Partial<AdapterRecord> = {}): AdapterRecord {
  return {
    id,
    name: `adapter ${id}`,
    createdAt: 1000,
    updatedAt: 1000,
    baseModel: 'HuggingFaceTB/SmolLM2-135M',
    method: 'sft',
    parentId: null,
    lora,
    trainingConfig: { learning_rate: 2e-4, target_modules: ['q_proj', 'v_proj'], max_length: 64 },
    metrics: [{ step: 1, loss: 2.25 }],
    tensors: [
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [2, 3], data: noise(6) },
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [4, 2], data: noise(8) },
    ],
    ...overrides,
  };
}

function checkpoint(runId: string, step: number, createdAt = step): CheckpointRecord {
  return {
    runId,
    step,
    createdAt,
    config: { learning_rate: 1e-4, step_hint: step },
    state: { params: noise(5), m: noise(5), v: noise(5) },
    progress: { epoch: 0, cursor: step * 4, optimizerStep: step, seed: 3, numTokens: step * 100 },
    metrics: [{ step, loss: 1 / step }],
  };
}

/** Calls `fn` with IDBObjectStore.prototype.put replaced; restores it afterwards. */
async function withPut(
  replacement: (original: IDBObjectStore['put'], store: IDBObjectStore, args: Parameters<IDBObjectStore['put']>) => IDBRequest,
  fn: () => Promise<void>,
): Promise<void> {
  const original = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    return replacement(original, this, args);
  };
  try {
    await fn();
  } finally {
    IDBObjectStore.prototype.put = original;
  }
}

const quotaError = () => new DOMException('The quota has been exceeded.', 'QuotaExceededError');

gpuTest('asks for persistent storage once, and opens even when that fails', async () => {
  // A fresh instance of db.ts (Vite serves `?query` imports as separate modules), so that what other test files
  // did in this page cannot have asked already.
  const fresh: typeof import('./db.ts') = await import(/* @vite-ignore */ `${new URL('./db.ts', import.meta.url).pathname}?persist-test`);
  check(fresh.Store !== Store, 'the import did not give a fresh module');
  const storage = navigator.storage as StorageManager & { persist: () => Promise<boolean> };
  const original = storage.persist;
  let calls = 0;
  Object.defineProperty(storage, 'persist', {
    configurable: true,
    value: () => {
      calls++;
      return Promise.reject(new Error('denied'));
    },
  });
  const names = [`webtune-test-${crypto.randomUUID()}`, `webtune-test-${crypto.randomUUID()}`];
  try {
    for (const name of names) (await fresh.Store.open(name)).close();
  } finally {
    Object.defineProperty(storage, 'persist', { configurable: true, value: original });
    for (const name of names) await Store.deleteDatabase(name);
  }
  eq(calls, 1, 'persist() calls over two opens');
});

gpuTest('adapters round-trip, Float32Arrays and all', async () => {
  await withStore(async (store) => {
    const rec = adapter('a');
    const backing = new Float32Array([99, Number.NaN, -0, Number.POSITIVE_INFINITY, 1e-40, 5, 6, 99]);
    rec.tensors.push({
      name: 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight',
      shape: [2, 3],
      data: backing.subarray(1, 7),
    });
    await store.putAdapter(rec);
    const got = await store.getAdapter('a');
    check(got !== undefined, 'getAdapter found nothing');
    const { tensors, ...meta } = got;
    const { tensors: want, ...wantMeta } = rec;
    eq(meta, wantMeta, 'metadata');
    eq(
      tensors.map((t) => [t.name, t.shape]),
      want.map((t) => [t.name, t.shape]),
      'tensor names and shapes',
    );
    for (let i = 0; i < want.length; i++) {
      sameFloats(tensors[i].data, want[i].data, want[i].name);
      assertAllClose(tensors[i].data, want[i].data, { atol: 0, rtol: 0 }, want[i].name);
    }
    // A view was stored as its own elements, not its whole buffer.
    eq(tensors[2].data.buffer.byteLength, 24, 'stored view buffer size');
    eq(await store.getAdapter('nope'), undefined, 'unknown id');

    // putAdapter replaces.
    await store.putAdapter({ ...rec, name: 'replaced', tensors: rec.tensors.slice(0, 1) });
    const again = await store.getAdapter('a');
    eq([again?.name, again?.tensors.length], ['replaced', 1], 'after replace');
    eq((await store.listAdapters()).length, 1, 'still one adapter');
  });
});

gpuTest('listAdapters: newest first, metadata only, tensors never read', async () => {
  await withStore(async (store) => {
    await store.putAdapter(adapter('old', { createdAt: 100 }));
    await store.putAdapter(adapter('new', { createdAt: 300 }));
    await store.putAdapter(adapter('mid', { createdAt: 200, tensors: [] }));
    const opened: string[][] = [];
    const original = IDBDatabase.prototype.transaction;
    IDBDatabase.prototype.transaction = function (
      this: IDBDatabase,
      names: string | string[],
      ...rest: [IDBTransactionMode?, IDBTransactionOptions?]
    ) {
      opened.push(typeof names === 'string' ? [names] : [...names]);
      return original.call(this, names, ...rest);
    } as typeof original;
    let list: Awaited<ReturnType<Store['listAdapters']>>;
    try {
      list = await store.listAdapters();
    } finally {
      IDBDatabase.prototype.transaction = original;
    }
    eq(opened, [['adapters']], 'stores opened by listAdapters');
    eq(
      list.map((a) => a.id),
      ['new', 'mid', 'old'],
      'order',
    );
    check(
      list.every((a) => !('tensors' in a)),
      'a listed adapter carries tensors',
    );
    eq([list[0].tensorCount, list[0].parameters, list[1].tensorCount, list[1].parameters], [2, 14, 0, 0], 'tensor summary');
    eq(list[0].lora, lora, 'lora config listed');
  });
});

gpuTest('renameAdapter renames, bumps updatedAt, keeps tensors', async () => {
  await withStore(async (store) => {
    const rec = adapter('a');
    await store.putAdapter(rec);
    const before = Date.now();
    await store.renameAdapter('a', '  Helpful assistant  ');
    const got = await store.getAdapter('a');
    eq(got?.name, 'Helpful assistant', 'name');
    check((got?.updatedAt ?? 0) >= before, 'updatedAt was not bumped');
    eq(got?.createdAt, 1000, 'createdAt');
    sameFloats(got?.tensors[1].data, rec.tensors[1].data, 'tensor after rename');
    await rejects(store.renameAdapter('missing', 'x'), 'not-found', /No adapter with id missing/, 'rename unknown');
    await rejects(store.renameAdapter('a', '   '), 'invalid', /cannot be empty/, 'rename to blank');
  });
});

gpuTest('deleteAdapter refuses a parent unless cascade, which removes descendants', async () => {
  await withStore(async (store) => {
    await store.putAdapter(adapter('sft', { name: 'Stage one' }));
    await store.putAdapter(adapter('dpo', { name: 'Stage two', method: 'dpo', parentId: 'sft', createdAt: 2000 }));
    await store.putAdapter(adapter('dpo2', { name: 'Stage three', method: 'dpo', parentId: 'dpo', createdAt: 3000 }));
    await store.putAdapter(adapter('other', { createdAt: 500 }));
    await rejects(
      store.putAdapter(adapter('orphan', { parentId: 'ghost' })),
      'invalid',
      /parent adapter ghost is not in storage/,
      'unknown parent',
    );
    await rejects(store.putAdapter(adapter('sft', { parentId: 'dpo2' })), 'invalid', /its own ancestor/, 'cycle');

    await rejects(
      store.deleteAdapter('sft'),
      'in-use',
      /Adapter "Stage one" cannot be deleted: adapter "Stage two" was trained on top of it.*delete it together with everything trained on it/,
      'delete parent',
    );
    eq((await store.listAdapters()).length, 4, 'nothing deleted by the refusal');
    check((await store.getAdapter('sft')) !== undefined, 'parent lost its tensors after a refused delete');

    eq(await store.deleteAdapter('other'), ['other'], 'delete a leaf');
    eq(await store.deleteAdapter('other'), [], 'delete an unknown id');
    eq((await store.deleteAdapter('sft', { cascade: true })).sort(), ['dpo', 'dpo2', 'sft'], 'cascade');
    eq(await store.listAdapters(), [], 'after cascade');
    for (const id of ['sft', 'dpo', 'dpo2']) eq(await store.getAdapter(id), undefined, `${id} after cascade`);
  });
});

gpuTest('checkpoints: keep the newest 2 per run, latest with state, listRuns, deleteRun', async () => {
  await withStore(async (store) => {
    const written = new Map<number, CheckpointRecord>();
    for (const step of [10, 20, 30]) {
      const c = checkpoint('run-a', step);
      written.set(step, c);
      await store.putCheckpoint(c);
    }
    await store.putCheckpoint(checkpoint('run-b', 5, 1000));
    const latest = await store.latestCheckpoint('run-a');
    check(latest !== undefined, 'no latest checkpoint');
    const want = written.get(30)!;
    eq([latest.step, latest.progress, latest.config, latest.metrics], [30, want.progress, want.config, want.metrics], 'latest metadata');
    for (const k of ['params', 'm', 'v'] as const) sameFloats(latest.state[k], want.state[k], `state.${k}`);

    eq(
      (await store.listRuns()).map((r) => [r.runId, r.step, r.createdAt, r.checkpoints]),
      [
        ['run-b', 5, 1000, 1],
        ['run-a', 30, 30, 2],
      ],
      'listRuns',
    );
    eq((await store.listRuns())[1].config, want.config, 'listRuns config');

    // keep: 3 keeps three; a resume from step 15 drops the abandoned later steps.
    await store.putCheckpoint(checkpoint('run-a', 40), { keep: 3 });
    eq((await store.listRuns()).find((r) => r.runId === 'run-a')?.checkpoints, 3, 'keep 3');
    await store.putCheckpoint(checkpoint('run-a', 15, 2000));
    eq((await store.latestCheckpoint('run-a'))?.step, 15, 'latest after resume from an earlier step');
    eq(
      (await store.listRuns()).map((r) => [r.runId, r.step, r.checkpoints]),
      [
        ['run-a', 15, 1],
        ['run-b', 5, 1],
      ],
      'runs after resume',
    );

    await store.deleteRun('run-a');
    eq(await store.latestCheckpoint('run-a'), undefined, 'deleted run');
    eq(
      (await store.listRuns()).map((r) => r.runId),
      ['run-b'],
      'runs after delete',
    );
    await rejects(store.putCheckpoint(checkpoint('run-b', 6), { keep: 0 }), 'invalid', /keep must be a positive integer/, 'keep 0');
    const bad = checkpoint('run-b', 7);
    bad.state.m = new Float32Array(2);
    await rejects(store.putCheckpoint(bad), 'invalid', /state.m \(2\) and state.v \(5\) must match params \(5\)/, 'mismatched state');
  });
});

gpuTest('reference log-probs: put, get, overwrite, clear; hashKey matches Node', async () => {
  await withStore(async (store) => {
    const key = await hashKey(['model', new Uint8Array([1, 2, 3]), 'max_length=64']);
    check(/^[0-9a-f]{64}$/.test(key), `hashKey gave ${key}`);
    // Same input as db.test.ts's reference check runs in Node: the page and Node agree.
    eq(await hashKey(['ab', 'c']), await hashKey(['ab', 'c']), 'deterministic');
    eq(await store.getRefLogps(key), undefined, 'missing key');
    const values = new Float32Array([-1.5, -0.25, -12.75, Number.NEGATIVE_INFINITY]);
    await store.putRefLogps(key, values);
    sameFloats(await store.getRefLogps(key), values, 'reflogps');
    const newer = new Float32Array([-3]);
    await store.putRefLogps(key, newer);
    sameFloats(await store.getRefLogps(key), newer, 'overwritten reflogps');
    await store.clearRefLogps();
    eq(await store.getRefLogps(key), undefined, 'after clear');
  });
});

gpuTest('a full disk (QuotaExceededError from a put) is a clear StorageError and loses nothing', async () => {
  await withStore(async (store) => {
    const first = adapter('first');
    await store.putAdapter(first);
    await store.putCheckpoint(checkpoint('run', 1));
    await store.putCheckpoint(checkpoint('run', 2));
    await store.putRefLogps('k1', new Float32Array([1, 2]));

    await withPut(
      (original, os, args) => {
        if (os.name === 'adapterTensors' || os.name === 'checkpointState') throw quotaError();
        return original.apply(os, args);
      },
      async () => {
        const err = await rejects(
          store.putAdapter(adapter('second', { name: 'Second' })),
          'quota',
          /^Storage is full: the browser refused to save adapter "Second"\. Nothing already saved was lost\. .*deleting old adapters or checkpoints in the Adapters screen, or free disk space/,
          'putAdapter',
        );
        check(err.cause instanceof DOMException && err.cause.name === 'QuotaExceededError', 'cause is not the QuotaExceededError');
        // Step 3 would prune step 1 in the same transaction: the abort must undo that too.
        await rejects(store.putCheckpoint(checkpoint('run', 3)), 'quota', /Storage is full: .*checkpoint of step 3/, 'putCheckpoint');
      },
    );
    eq(
      (await store.listAdapters()).map((a) => a.id),
      ['first'],
      'adapters after the failed put (its metadata was rolled back too)',
    );
    sameFloats((await store.getAdapter('first'))?.tensors[0].data, first.tensors[0].data, 'first adapter tensors');
    eq(
      (await store.listRuns()).map((r) => [r.step, r.checkpoints]),
      [[2, 2]],
      'checkpoints after the failed put',
    );
    eq((await store.latestCheckpoint('run'))?.step, 2, 'latest checkpoint');
    // The store still works once space is back.
    await store.putAdapter(adapter('second'));
    eq((await store.listAdapters()).length, 2, 'put after the quota error');
  });
});

gpuTest('a quota failure at commit (the transaction aborts with QuotaExceededError) is reported as storage full', async () => {
  await withStore(async (store) => {
    await store.putRefLogps('kept', new Float32Array([7]));
    // Browsers report a commit-time quota failure on the transaction: it aborts with error QuotaExceededError,
    // while its requests only see AbortError. Simulate that: the put succeeds, then the transaction aborts.
    const errorGetter = Object.getOwnPropertyDescriptor(IDBTransaction.prototype, 'error')!;
    const failing = new WeakSet<IDBTransaction>();
    Object.defineProperty(IDBTransaction.prototype, 'error', {
      configurable: true,
      get(this: IDBTransaction) {
        return failing.has(this) ? quotaError() : errorGetter.get!.call(this);
      },
    });
    try {
      await withPut(
        (original, os, args) => {
          const req = original.apply(os, args);
          failing.add(os.transaction);
          req.addEventListener('success', () => os.transaction.abort());
          return req;
        },
        async () => {
          await rejects(
            store.putRefLogps('lost', new Float32Array(1000)),
            'quota',
            /^Storage is full: .*reference log-probs/,
            'putRefLogps',
          );
        },
      );
    } finally {
      Object.defineProperty(IDBTransaction.prototype, 'error', errorGetter);
    }
    sameFloats(await store.getRefLogps('kept'), new Float32Array([7]), 'earlier reflogps');
    eq(await store.getRefLogps('lost'), undefined, 'the aborted write');
  });
});

gpuTest('other write failures and bad records have their own messages', async () => {
  await withStore(async (store) => {
    const bad = adapter('bad');
    bad.tensors[0].shape = [5, 5];
    await rejects(store.putAdapter(bad), 'invalid', /tensor "base_model.*lora_A.weight" has shape \[5,5\] but 6 values/, 'shape mismatch');
    await rejects(
      store.putAdapter(adapter('x', { method: 'ppo' as 'sft' })),
      'invalid',
      /method must be one of sft, dpo, kto, orpo, simpo, got "ppo"/,
      'method',
    );
    await rejects(
      store.putAdapter(adapter('fn', { trainingConfig: { callback: () => 1 } })),
      'invalid',
      /cannot store/,
      'uncloneable config',
    );
    eq(await store.listAdapters(), [], 'nothing stored');
  });
});

gpuTest('version, blocked upgrade and a connection closed by another tab get clear messages', async () => {
  const name = `webtune-test-${crypto.randomUUID()}`;
  try {
    // A database written by a newer webtune.
    (await Store.open(name, { version: 2 })).close();
    await rejects(Store.open(name), 'version', /written by a newer version of webtune.*Reload the page/, 'older code, newer database');
    await Store.deleteDatabase(name);

    // An old tab that holds its connection open (and ignores versionchange) blocks an upgrade.
    (await Store.open(name)).close();
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    await rejects(
      Store.open(name, { version: 2 }),
      'blocked',
      /another tab or window still has webtune open.*Close the other webtune tabs/,
      'blocked',
    );
    old.close();
    // The upgrade we gave up on now goes through and closes itself; deleting must not be blocked by it.
    await new Promise((r) => setTimeout(r, 50));
    await Store.deleteDatabase(name);

    // Our own connection steps aside for a newer tab's upgrade, and says so afterwards.
    const mine = await Store.open(name);
    await mine.putRefLogps('k', new Float32Array([1]));
    const newer = await Store.open(name, { version: 2 });
    sameFloats(await newer.getRefLogps('k'), new Float32Array([1]), 'data across the upgrade');
    await rejects(mine.listAdapters(), 'closed', /upgraded or reset by webtune in another tab. Reload this page/, 'closed connection');
    await rejects(mine.putRefLogps('k2', new Float32Array(1)), 'closed', /Reload this page/, 'write on a closed connection');
    newer.close();
    await rejects(newer.listRuns(), 'closed', /closed/, 'after close()');
  } finally {
    await Store.deleteDatabase(name);
  }
});
