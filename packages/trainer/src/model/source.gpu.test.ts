// fetchModelFiles in a real browser (fetch, streams, Cache Storage, CORS, AbortSignal) against the Hub-layout mocks
// that test/gpu.test.ts mounts on the page server (see test/hub-fixtures.ts for the repos). No GPU is used.
import { gpuTest } from '@webtune/harness/page';
import { parseSafetensors } from './safetensors.ts';
import {
  clearModelCache,
  type DownloadProgress,
  fetchModelFiles,
  hubUrl,
  isAbortError,
  MODEL_CACHE,
  type ModelFiles,
  ModelSourceError,
  type ModelSourceErrorKind,
} from './source.ts';
import { readWhole } from './weight-file.ts';

const HUB = `${location.origin}/__hub`;
const SLOW = `${location.origin}/__hub-slow`;
const FIXTURES = '/packages/trainer/test/fixtures';
const TEXT_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function raw(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  assert(res.ok, `GET ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** The fixture folder's four files as the vite server serves them (the truth to compare against). */
async function onDisk(name: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of [...TEXT_FILES, 'model.safetensors']) out.set(f, await raw(`${FIXTURES}/${name}/${f}`));
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array, label: string): void {
  assert(a.length === b.length, `${label}: ${a.length} bytes, expected ${b.length}`);
  for (let i = 0; i < a.length; i++) assert(a[i] === b[i], `${label}: byte ${i} differs (${a[i]} vs ${b[i]})`);
}

async function checkFiles(got: ModelFiles, disk: Map<string, Uint8Array>): Promise<void> {
  const decode = (f: string) => new TextDecoder().decode(disk.get(f));
  assert(got.config === decode('config.json'), 'config.json text differs');
  assert(got.tokenizerJson === decode('tokenizer.json'), 'tokenizer.json text differs');
  assert(got.tokenizerConfig === decode('tokenizer_config.json'), 'tokenizer_config.json text differs');
  assert([...got.safetensors.keys()].join() === 'model.safetensors', `weights: ${[...got.safetensors.keys()]}`);
  sameBytes(await readWhole(got.safetensors.get('model.safetensors')!), disk.get('model.safetensors')!, 'model.safetensors');
}

/** Progress events grouped by file, each file's events checked for order and consistency. */
function byFile(events: DownloadProgress[]): Map<string, DownloadProgress[]> {
  const out = new Map<string, DownloadProgress[]>();
  for (const e of events) out.set(e.file, [...(out.get(e.file) ?? []), e]);
  for (const [file, list] of out) {
    for (let i = 1; i < list.length; i++) assert(list[i].loaded >= list[i - 1].loaded, `${file}: progress went backwards`);
  }
  return out;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, but it resolved');
}

/** The error is a ModelSourceError of this kind whose message contains every fragment. */
function expectError(
  e: unknown,
  kind: ModelSourceErrorKind,
  fragments: string[],
  fields: Partial<ModelSourceError> = {},
): ModelSourceError {
  assert(e instanceof ModelSourceError, `expected a ModelSourceError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  assert(e.kind === kind, `kind "${e.kind}", expected "${kind}": ${e.message}`);
  for (const f of fragments) assert(e.message.includes(f), `message lacks "${f}": ${e.message}`);
  for (const [k, v] of Object.entries(fields)) {
    assert(e[k as keyof ModelSourceError] === v, `${k} is ${String(e[k as keyof ModelSourceError])}, expected ${String(v)}`);
  }
  return e;
}

async function cached(url: string): Promise<boolean> {
  const cache = await caches.open(MODEL_CACHE);
  return (await cache.match(url)) !== undefined;
}

gpuTest('hub: a full download streams every file with progress that sums to the file sizes', async () => {
  await clearModelCache();
  const disk = await onDisk('llama-gqa-bf16');
  const events: DownloadProgress[] = [];
  const got = await fetchModelFiles(
    { kind: 'hub', repo: 'webtune-test/llama-gqa-bf16', endpoint: HUB },
    { onProgress: (p) => events.push({ ...p }) },
  );
  assert(got.id === 'webtune-test/llama-gqa-bf16', `id ${got.id}`);
  await checkFiles(got, disk);
  const files = byFile(events);
  assert([...files.keys()].join() === [...disk.keys()].join(), `progress for ${[...files.keys()]}`);
  let sum = 0;
  let expected = 0;
  for (const [file, list] of files) {
    const size = disk.get(file)!.length;
    assert(
      list.every((e) => e.total === size && !e.cached),
      `${file}: totals ${list.map((e) => e.total)}, cached ${list.map((e) => e.cached)}`,
    );
    assert(list[0].loaded === 0 && list.at(-1)!.loaded === size, `${file}: loaded ${list[0].loaded}..${list.at(-1)!.loaded} of ${size}`);
    sum += list.at(-1)!.loaded;
    expected += size;
  }
  assert(sum === expected, `progress sums to ${sum}, files hold ${expected}`);
});

gpuTest('hub: a second load is served from Cache Storage, byte for byte; cache: false bypasses it', async () => {
  await clearModelCache();
  const source = { kind: 'hub', repo: 'webtune-test/qwen2-bias-f16', endpoint: `${HUB}/` } as const;
  const first = await fetchModelFiles(source);
  for (const f of [...TEXT_FILES, 'model.safetensors']) {
    assert(await cached(hubUrl(HUB, source.repo, 'main', f)), `${f} is not in the cache after a download`);
  }
  const events: DownloadProgress[] = [];
  const t0 = performance.now();
  const second = await fetchModelFiles(source, { onProgress: (p) => events.push({ ...p }) });
  const ms = performance.now() - t0;
  assert(events.length === 4, `expected one event per file, got ${events.length}`);
  assert(
    events.every((e) => e.cached && e.loaded === e.total),
    `events: ${JSON.stringify(events)}`,
  );
  await checkFiles(second, await onDisk('qwen2-bias-f16'));
  sameBytes(
    await readWhole(second.safetensors.get('model.safetensors')!),
    await readWhole(first.safetensors.get('model.safetensors')!),
    'cached vs downloaded',
  );
  console.info(`source.gpu: cached load of qwen2-bias-f16 took ${ms.toFixed(1)} ms`);

  const fresh: DownloadProgress[] = [];
  await fetchModelFiles(source, { cache: false, onProgress: (p) => fresh.push(p) });
  assert(!fresh.some((e) => e.cached), 'cache: false still read the cache');
});

gpuTest('hub: a sharded checkpoint loads the index and both shards, holding every tensor of the original', async () => {
  await clearModelCache();
  const events: DownloadProgress[] = [];
  const got = await fetchModelFiles(
    { kind: 'hub', repo: 'webtune-test/llama-sharded', endpoint: HUB },
    { onProgress: (p) => events.push(p) },
  );
  const names = [...got.safetensors.keys()];
  assert(names.join() === 'model-00001-of-00002.safetensors,model-00002-of-00002.safetensors', `shards: ${names}`);
  const seen = [...byFile(events).keys()];
  for (const f of ['model.safetensors.index.json', ...names]) assert(seen.includes(f), `no progress for ${f}: ${seen}`);
  assert(!seen.includes('model.safetensors'), 'progress for a model.safetensors the repo does not have');

  const original = await raw(`${FIXTURES}/llama-tied-f32/model.safetensors`);
  const ref = parseSafetensors('model.safetensors', original);
  const found = new Map<string, string>();
  for (const [shard, file] of got.safetensors) {
    const bytes = await readWhole(file);
    const parsed = parseSafetensors(shard, bytes);
    assert(parsed.tensors.size > 0, `${shard} is empty`);
    for (const [name, t] of parsed.tensors) {
      assert(!found.has(name), `${name} is in ${found.get(name)} and ${shard}`);
      found.set(name, shard);
      const r = ref.tensors.get(name);
      assert(r && r.dtype === t.dtype && r.shape.join() === t.shape.join(), `${name}: not as in the original`);
      sameBytes(
        bytes.subarray(parsed.dataOffset + t.begin, parsed.dataOffset + t.end),
        original.subarray(ref.dataOffset + r.begin, ref.dataOffset + r.end),
        name,
      );
    }
  }
  assert(found.size === ref.tensors.size, `${found.size} tensors in the shards, ${ref.tensors.size} in the original`);
});

gpuTest('hub: 404s name the repo, the revision or the file, with the URL', async () => {
  const repoUrl = hubUrl(HUB, 'webtune-test/nope', 'main', 'config.json');
  expectError(
    await rejection(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/nope', endpoint: HUB })),
    'not-found',
    [repoUrl, 'Repository not found', 'There is no model repo "webtune-test/nope"', 'check the id'],
    { status: 404, file: 'config.json', url: repoUrl },
  );
  expectError(
    await rejection(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/llama-gqa-bf16', revision: 'v9', endpoint: HUB })),
    'not-found',
    ['has no revision "v9"', hubUrl(HUB, 'webtune-test/llama-gqa-bf16', 'v9', 'config.json')],
  );
  const tokUrl = hubUrl(HUB, 'webtune-test/no-tokenizer', 'main', 'tokenizer.json');
  expectError(
    await rejection(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/no-tokenizer', endpoint: HUB })),
    'missing-tokenizer',
    [`tokenizer.json was not found at ${tokUrl}`, 'Entry not found', 'has no tokenizer.json', 'save_pretrained'],
    { status: 404, file: 'tokenizer.json', url: tokUrl },
  );
});

gpuTest('hub: a repo with only pytorch_model.bin is refused: safetensors are required, and how to convert', async () => {
  expectError(
    await rejection(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/bin-only', endpoint: HUB })),
    'no-safetensors',
    ['pytorch_model.bin', 'neither model.safetensors nor model.safetensors.index.json', 'safe_serialization=True', 'safetensors/convert'],
    { file: 'model.safetensors' },
  );
});

gpuTest('hub: a gated repo answers 401 without a token and loads with one', async () => {
  const source = { kind: 'hub', repo: 'webtune-test/gated-llama', endpoint: HUB } as const;
  expectError(
    await rejection(fetchModelFiles(source, { cache: false })),
    'unauthorized',
    ['401', 'Access to model webtune-test/gated-llama is restricted', 'gated or private', 'accept its license', 'access token'],
    { status: 401, file: 'config.json' },
  );
  await checkFiles(await fetchModelFiles({ ...source, token: 'hf_test' }, { cache: false }), await onDisk('llama-tied-f32'));
});

gpuTest('hub: a cross-origin endpoint works (CORS preflight with Authorization, error bodies readable)', async () => {
  const { url } = (await (await fetch('/__hub-standalone')).json()) as { url: string };
  assert(new URL(url).origin !== location.origin, `${url} is not cross-origin`);
  const source = { kind: 'hub', repo: 'webtune-test/gated-llama', endpoint: url } as const;
  expectError(
    await rejection(fetchModelFiles(source, { cache: false })),
    'unauthorized',
    ['Access to model webtune-test/gated-llama is restricted'],
    {
      status: 401,
    },
  );
  await checkFiles(await fetchModelFiles({ ...source, token: 'hf_test' }, { cache: false }), await onDisk('llama-tied-f32'));
  expectError(await rejection(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/nope', endpoint: url })), 'not-found', [
    'Repository not found',
  ]);
});

gpuTest('cancel: aborting mid-download rejects promptly with an AbortError and caches nothing partial', async () => {
  await clearModelCache();
  const source = { kind: 'hub', repo: 'webtune-test/llama-tied-f32', endpoint: SLOW } as const;
  const modelUrl = hubUrl(SLOW, source.repo, 'main', 'model.safetensors');
  const controller = new AbortController();
  let abortedAt = 0;
  let partial = 0;
  const e = await rejection(
    fetchModelFiles(source, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && p.loaded > 0 && !abortedAt) {
          partial = p.loaded;
          abortedAt = performance.now();
          controller.abort();
        }
      },
    }),
  );
  const ms = performance.now() - abortedAt;
  assert(abortedAt > 0, 'never saw model.safetensors progress');
  assert(isAbortError(e) && !(e instanceof ModelSourceError), `not an AbortError: ${e instanceof Error ? `${e.name}: ${e.message}` : e}`);
  assert(ms < 1000, `the rejection came ${ms.toFixed(0)} ms after abort()`);
  // Slow chunks (16 KiB every 50 ms) make the first progress event an intermediate one.
  assert(partial < 110_704, `aborted only after the whole file (${partial} bytes)`);
  assert(!(await cached(modelUrl)), 'a partial model.safetensors was cached');
  assert(await cached(hubUrl(SLOW, source.repo, 'main', 'config.json')), 'complete files before the abort should be cached');

  // A signal that is already aborted stops before any request; a custom reason comes back as is.
  const before = new AbortController();
  before.abort(new DOMException('user left the page', 'AbortError'));
  let events = 0;
  const early = await rejection(fetchModelFiles(source, { signal: before.signal, onProgress: () => events++ }));
  assert(early === before.signal.reason && events === 0, 'pre-aborted signal');

  // And the next attempt downloads the whole file.
  await checkFiles(await fetchModelFiles(source), await onDisk('llama-tied-f32'));
  assert(await cached(modelUrl), 'model.safetensors not cached after a complete download');
});

gpuTest('a connection that drops before Content-Length is reached fails and is not cached', async () => {
  await clearModelCache();
  const repo = 'webtune-test/truncated-llama';
  const e = await rejection(fetchModelFiles({ kind: 'hub', repo, endpoint: HUB }));
  const err = expectError(e, e instanceof ModelSourceError && e.kind === 'truncated' ? 'truncated' : 'network', [
    'config.json',
    'nothing partial was kept',
  ]);
  assert(err.url === hubUrl(HUB, repo, 'main', 'config.json'), `url ${err.url}`);
  assert(!(await cached(err.url)), 'a truncated file was cached');
});

gpuTest('url source: a folder served over HTTP (relative base URL), cached like the Hub', async () => {
  await clearModelCache();
  const source = { kind: 'url', baseUrl: `${FIXTURES}/llama-tied-f32`, id: 'demo' } as const;
  const disk = await onDisk('llama-tied-f32');
  const got = await fetchModelFiles(source);
  assert(got.id === 'demo', `id ${got.id}`);
  await checkFiles(got, disk);
  const events: DownloadProgress[] = [];
  await checkFiles(await fetchModelFiles(source, { onProgress: (p) => events.push(p) }), disk);
  assert(events.length === 4 && events.every((p) => p.cached), `second load: ${JSON.stringify(events)}`);

  const missing = `${location.origin}${FIXTURES}/no-such-model/config.json`;
  expectError(
    await rejection(fetchModelFiles({ kind: 'url', baseUrl: `${FIXTURES}/no-such-model/`, id: 'x' })),
    'not-found',
    [`config.json was not found at ${missing}`, 'check that the base URL is the folder holding config.json'],
    { url: missing, status: 404 },
  );
});

gpuTest('files source: picked Blobs (a folder prefix, extra files, shards); missing config.json and .bin-only refused', async () => {
  const disk = await onDisk('llama-tied-f32');
  const files = new Map<string, Blob>(
    [...disk].map(([name, bytes]) => [`llama-tied-f32/${name}`, new Blob([bytes as Uint8Array<ArrayBuffer>])]),
  );
  files.set('llama-tied-f32/README.md', new Blob(['# a model']));
  files.set('llama-tied-f32/adapter/config.json', new Blob(['{}'])); // deeper: not the model folder
  const events: DownloadProgress[] = [];
  const got = await fetchModelFiles({ kind: 'files', files, id: 'my-model' }, { onProgress: (p) => events.push(p) });
  assert(got.id === 'my-model', `id ${got.id}`);
  await checkFiles(got, disk);
  const finals = [...byFile(events)].map(([f, list]) => [f, list.at(-1)!] as const);
  assert(
    finals.every(([f, p]) => p.loaded === disk.get(f)!.length && p.total === p.loaded && !p.cached),
    `files progress: ${JSON.stringify(finals)}`,
  );

  const sharded = new Map<string, Blob>();
  const repoFile = (f: string) => hubUrl(HUB, 'webtune-test/llama-sharded', 'main', f);
  for (const f of [...TEXT_FILES, 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    sharded.set(f, new Blob([(await raw(repoFile(f))) as Uint8Array<ArrayBuffer>]));
  }
  const shardGot = await fetchModelFiles({ kind: 'files', files: sharded, id: 's' });
  assert(shardGot.safetensors.size === 2, `shards: ${[...shardGot.safetensors.keys()]}`);
  sharded.delete('model-00002-of-00002.safetensors');
  expectError(await rejection(fetchModelFiles({ kind: 'files', files: sharded, id: 's' })), 'missing-weights', [
    'model-00002-of-00002.safetensors',
    'names it',
  ]);

  files.delete('llama-tied-f32/config.json');
  files.delete('llama-tied-f32/adapter/config.json');
  expectError(await rejection(fetchModelFiles({ kind: 'files', files, id: 'my-model' })), 'missing-config', [
    'config.json is missing from the picked files',
    'llama-tied-f32/model.safetensors',
  ]);

  const bin = new Map<string, Blob>([
    ...TEXT_FILES.map((f) => [f, new Blob([disk.get(f)! as Uint8Array<ArrayBuffer>])] as const),
    ['pytorch_model.bin', new Blob(['x'])],
  ]);
  expectError(await rejection(fetchModelFiles({ kind: 'files', files: bin, id: 'b' })), 'no-safetensors', [
    'pytorch_model.bin',
    'safe_serialization=True',
  ]);
});
