// Names, URLs and messages in Node; fetchModelFiles against the standalone Hub mock (Node has fetch but no Cache
// Storage, so nothing is cached here: source.gpu.test.ts covers caching, CORS and cancelling in a real browser).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HubMockServer, hubMock } from '@webtune/harness';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FIXTURES_DIR, hubTestOptions } from '../../test/hub-fixtures.ts';
import { parseSafetensors } from './safetensors.ts';
import {
  DEFAULT_HUB_ENDPOINT,
  type DownloadProgress,
  describeSource,
  fetchModelFiles,
  hubUrl,
  isAbortError,
  type ModelSource,
  ModelSourceError,
  validateRepoId,
} from './source.ts';
import { readWhole } from './weight-file.ts';

describe('hubUrl', () => {
  it('builds the resolve URL, revision main', () => {
    expect(hubUrl(DEFAULT_HUB_ENDPOINT, 'Qwen/Qwen2.5-0.5B', 'main', 'config.json')).toBe(
      'https://huggingface.co/Qwen/Qwen2.5-0.5B/resolve/main/config.json',
    );
  });
  it('escapes the revision whole and the path per segment, and drops trailing slashes of the endpoint', () => {
    expect(hubUrl('http://127.0.0.1:8080/hub//', 'a/b', 'refs/pr/1', 'sub dir/model-00001-of-00002.safetensors')).toBe(
      'http://127.0.0.1:8080/hub/a/b/resolve/refs%2Fpr%2F1/sub%20dir/model-00001-of-00002.safetensors',
    );
  });
  it('refuses a bad repo id, endpoint or revision', () => {
    expect(() => hubUrl(DEFAULT_HUB_ENDPOINT, 'gpt2', 'main', 'config.json')).toThrow(/no owner.*openai-community\/gpt2/);
    expect(() => hubUrl('huggingface.co', 'a/b', 'main', 'config.json')).toThrow(/not an absolute URL/);
    expect(() => hubUrl('ftp://x', 'a/b', 'main', 'config.json')).toThrow(/must be an http\(s\) URL/);
    expect(() => hubUrl(DEFAULT_HUB_ENDPOINT, 'a/b', ' ', 'config.json')).toThrow(/revision " " is not valid/);
  });
});

describe('validateRepoId', () => {
  it.each(['HuggingFaceTB/SmolLM2-135M-Instruct', 'Qwen/Qwen2.5-0.5B', 'a/b', 'meta-llama/Llama-3.2-1B', 'x_y/z.v2_', '_org/_name'])(
    'accepts %s',
    (id) => {
      expect(() => validateRepoId(id)).not.toThrow();
    },
  );
  const cases: [string, RegExp][] = [
    ['', /it is empty/],
    ['gpt2', /it has no owner/],
    ['a/b/c', /more than one "\/"/],
    ['/b', /owner or the name is empty/],
    ['https://huggingface.co/Qwen/Qwen2.5-0.5B', /that is a URL; give the id \("Qwen\/Qwen2\.5-0\.5B"\) instead/],
    ['org/na me', /"na me" may hold only letters, digits/],
    ['org/-name', /must not start or end with "-" or "."/],
    ['org/name.', /must not start or end/],
    ['org/na--me', /contains "--" or "\.\."/],
    ['org/na..me', /contains "--" or "\.\."/],
    [' org/name', /leading or trailing spaces/],
    [`org/${'n'.repeat(95)}`, /the Hub allows 96/],
  ];
  it.each(cases)('refuses "%s"', (id, why) => {
    const e = (() => {
      try {
        validateRepoId(id);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ModelSourceError);
    expect((e as ModelSourceError).kind).toBe('invalid-source');
    expect((e as Error).message).toMatch(why);
    expect((e as Error).message).toContain('Ids look like "owner/name"');
  });
});

describe('describeSource', () => {
  it('says where the model comes from, never the token', () => {
    expect(describeSource({ kind: 'hub', repo: 'a/b' })).toBe('a/b (Hugging Face Hub, revision main)');
    const gated: ModelSource = { kind: 'hub', repo: 'a/b', revision: 'v1', endpoint: 'http://127.0.0.1:9/', token: 'hf_secret' };
    expect(describeSource(gated)).toBe('a/b (Hub at http://127.0.0.1:9, revision v1, with an access token)');
    expect(describeSource(gated)).not.toContain('hf_secret');
    expect(describeSource({ kind: 'url', baseUrl: '/models/demo/', id: 'demo' })).toBe('demo (/models/demo/)');
    expect(describeSource({ kind: 'files', files: new Map([['config.json', new Blob(['{}'])]]), id: 'mine' })).toBe('mine (1 local file)');
    expect(describeSource({ kind: 'files', files: new Map(), id: 'mine' })).toBe('mine (0 local files)');
  });
});

describe('fetchModelFiles against the standalone Hub mock', () => {
  let dir: string;
  let hub: HubMockServer;
  let other: Server;
  let otherUrl: string;
  const seen: { url: string; authorization: string | null }[] = [];
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webtune-source-test-'));
    const options = hubTestOptions(dir);
    // Two more broken repos: HTML where JSON should be, and a safetensors file with a bad header.
    const html = join(dir, 'html-config');
    const corrupt = join(dir, 'corrupt-weights');
    for (const [folder, files] of [
      [html, { 'config.json': '<!doctype html><title>Sign in</title>', 'tokenizer.json': '{}', 'tokenizer_config.json': '{}' }],
      [corrupt, { 'config.json': '{}', 'tokenizer.json': '{}', 'tokenizer_config.json': '{}', 'model.safetensors': 'abc' }],
    ] as const) {
      mkdirSync(folder);
      for (const [f, text] of Object.entries(files)) writeFileSync(join(folder, f), text);
    }
    options.repos['webtune-test/html-config'] = html;
    options.repos['webtune-test/corrupt-weights'] = corrupt;
    hub = await hubMock(options).listen();
    // A server that fails every request with the status in its path: /500/... , /429/..., /403/...
    other = createServer((req, res) => {
      const status = Number(req.url?.split('/')[1]);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: `status ${status} on purpose` }));
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    vi.stubGlobal('fetch', (input: string, init?: RequestInit) => {
      seen.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
      return realFetch(input, init);
    });
  });
  afterAll(async () => {
    vi.unstubAllGlobals();
    await hub.close();
    await new Promise((r) => other.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const errorOf = async (p: Promise<unknown>): Promise<ModelSourceError> => {
    const e = await p.then(
      () => new Error('resolved'),
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ModelSourceError);
    return e as ModelSourceError;
  };

  it('downloads the four files with progress, and sends no Authorization header without a token', async () => {
    seen.length = 0;
    const events: DownloadProgress[] = [];
    const got = await fetchModelFiles(
      { kind: 'hub', repo: 'webtune-test/llama-gqa-bf16', endpoint: hub.url },
      { onProgress: (p) => events.push(p) },
    );
    const disk = (f: string) => readFileSync(join(FIXTURES_DIR, 'llama-gqa-bf16', f));
    expect(got.config).toBe(disk('config.json').toString());
    expect(got.tokenizerJson).toBe(disk('tokenizer.json').toString());
    expect(Buffer.from(await readWhole(got.safetensors.get('model.safetensors')!)).equals(disk('model.safetensors'))).toBe(true);
    const last = new Map(events.map((e) => [e.file, e]));
    for (const [file, e] of last) expect([file, e.loaded, e.total, e.cached]).toEqual([file, disk(file).length, disk(file).length, false]);
    // The four files and chat_template.jinja, which this repo does not have (404): transformers looks for it too.
    // (generation_config.json and special_tokens_map.json only for a merged export: passThrough.)
    expect(seen.map((s) => s.authorization)).toEqual([null, null, null, null, null]);
  });

  it('sends "Authorization: Bearer <token>" when a token is given, and loads a gated repo with it', async () => {
    seen.length = 0;
    await fetchModelFiles({ kind: 'hub', repo: 'webtune-test/gated-llama', endpoint: hub.url, token: 'hf_abc' });
    expect(seen.length).toBe(5); // the four files and the absent chat_template.jinja
    expect(seen.every((s) => s.authorization === 'Bearer hf_abc')).toBe(true);
  });

  it('loads a sharded checkpoint', async () => {
    const got = await fetchModelFiles({ kind: 'hub', repo: 'webtune-test/llama-sharded', endpoint: hub.url });
    expect([...got.safetensors.keys()]).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });

  it('401 gated: names the file and URL and says to accept the license and pass a token', async () => {
    const e = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/gated-llama', endpoint: hub.url }));
    const url = `${hub.url}/webtune-test/gated-llama/resolve/main/config.json`;
    expect([e.kind, e.status, e.file, e.url]).toEqual(['unauthorized', 401, 'config.json', url]);
    expect(e.message).toBe(
      `Could not download config.json from ${url}: the server answered 401 Unauthorized ("Access to model webtune-test/gated-llama is restricted. ` +
        'You must have access to it and be authenticated to access it. Please log in."). "webtune-test/gated-llama" is gated or private ' +
        `(or does not exist): accept its license or request access on ${hub.url}/webtune-test/gated-llama while logged in, then pass an ` +
        'access token with read access (create one at https://huggingface.co/settings/tokens).',
    );
  });

  it('401 and 403 with a token say the token was refused or lacks access', async () => {
    const src = (repo: string): ModelSource => ({ kind: 'hub', repo, endpoint: otherUrl, token: 'hf_x' });
    const e401 = await errorOf(fetchModelFiles(src('401/x')));
    expect(e401.message).toMatch(/answered 401 Unauthorized \("status 401 on purpose"\)\. The access token was refused/);
    const e403 = await errorOf(fetchModelFiles(src('403/x')));
    expect(e403.kind).toBe('unauthorized');
    expect(e403.message).toMatch(
      /answered 403 Forbidden .*Your token cannot read "403\/x": it is gated and your access is not granted yet/,
    );
  });

  it('404: no such repo, no such revision', async () => {
    const repo = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/nope', endpoint: hub.url }));
    expect(repo.kind).toBe('not-found');
    expect(repo.message).toBe(
      `config.json was not found at ${hub.url}/webtune-test/nope/resolve/main/config.json (the server says "Repository not found"). ` +
        `There is no model repo "webtune-test/nope" on ${hub.url}: check the id (it is case-sensitive, "owner/name" as in the address ` +
        `${hub.url}/webtune-test/nope). If it is private, pass an access token that can read it.`,
    );
    const rev = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/llama-gqa-bf16', revision: 'v2', endpoint: hub.url }));
    expect(rev.message).toMatch(/\(the server says "Invalid rev id: v2"\)\. The repo "webtune-test\/llama-gqa-bf16" has no revision "v2"/);
  });

  it('a missing tokenizer.json, and a repo with only pytorch_model.bin', async () => {
    const tok = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/no-tokenizer', endpoint: hub.url }));
    expect([tok.kind, tok.file, tok.status]).toEqual(['missing-tokenizer', 'tokenizer.json', 404]);
    expect(tok.message).toMatch(
      /^tokenizer\.json was not found at http:\/\/127\.0\.0\.1:\d+\/webtune-test\/no-tokenizer\/resolve\/main\/tokenizer\.json/,
    );
    expect(tok.message).toMatch(/webtune needs the fast-tokenizer files/);
    const bin = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/bin-only', endpoint: hub.url }));
    expect(bin.kind).toBe('no-safetensors');
    expect(bin.message).toMatch(/^webtune-test\/bin-only has PyTorch weights \(pytorch_model\.bin\) but neither model\.safetensors nor/);
    expect(bin.message).toMatch(/safe_serialization=True/);
  });

  it('HTML instead of JSON, and a corrupt safetensors file, are "corrupt"', async () => {
    const html = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/html-config', endpoint: hub.url }));
    expect([html.kind, html.file]).toEqual(['corrupt', 'config.json']);
    expect(html.message).toMatch(/config\.json from http:\S+ is unusable: it is an HTML page, not JSON/);
    const st = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/corrupt-weights', endpoint: hub.url }));
    expect([st.kind, st.file]).toEqual(['corrupt', 'model.safetensors']);
    expect(st.message).toMatch(/shorter than the 8-byte header length/);
  });

  it('other statuses, and a network failure', async () => {
    const e500 = await errorOf(fetchModelFiles({ kind: 'hub', repo: '500/x', endpoint: otherUrl }));
    expect([e500.kind, e500.status]).toEqual(['http', 500]);
    expect(e500.message).toMatch(/answered 500 Internal Server Error \("status 500 on purpose"\)\. The server failed: try again later\./);
    const e429 = await errorOf(fetchModelFiles({ kind: 'hub', repo: '429/x', endpoint: otherUrl }));
    expect(e429.message).toMatch(/Too many requests/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const net = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'a/b', endpoint: `http://127.0.0.1:${port}` }));
    expect(net.kind).toBe('network');
    expect(net.message).toMatch(
      new RegExp(
        `^Could not download config\\.json from http://127\\.0\\.0\\.1:${port}/a/b/resolve/main/config\\.json: the request failed .*Are you offline`,
      ),
    );
  });

  it('a download cut short is an error, not a short file', async () => {
    const e = await errorOf(fetchModelFiles({ kind: 'hub', repo: 'webtune-test/truncated-llama', endpoint: hub.url }));
    expect(['network', 'truncated']).toContain(e.kind);
    expect(e.message).toMatch(/nothing partial was kept/);
  });

  it('invalid sources are refused before any request', async () => {
    seen.length = 0;
    expect((await errorOf(fetchModelFiles({ kind: 'hub', repo: 'gpt2' }))).kind).toBe('invalid-source');
    expect((await errorOf(fetchModelFiles({ kind: 'hub', repo: 'a/b', token: 'hf_a b' }))).message).toMatch(/token contains spaces/);
    expect((await errorOf(fetchModelFiles({ kind: 'url', baseUrl: '/relative/', id: 'x' }))).message).toMatch(/needs a page or worker/);
    expect((await errorOf(fetchModelFiles({ kind: 'nope' } as unknown as ModelSource))).message).toMatch(/use "hub", "url" or "files"/);
    expect(seen).toEqual([]);
  });

  it('an aborted signal rejects with its reason, not a ModelSourceError', async () => {
    const c = new AbortController();
    c.abort();
    const e = await fetchModelFiles({ kind: 'hub', repo: 'webtune-test/llama-gqa-bf16', endpoint: hub.url }, { signal: c.signal }).catch(
      (x) => x,
    );
    expect(isAbortError(e)).toBe(true);
    expect(e).not.toBeInstanceOf(ModelSourceError);
  });

  it('files source: finds the model folder, reads Blobs, refuses a folder without config.json', async () => {
    const files = new Map<string, Blob>([
      ['m/config.json', new Blob(['{"a":1}'])],
      ['m/tokenizer.json', new Blob(['{}'])],
      ['m/tokenizer_config.json', new Blob(['{}'])],
    ]);
    const tok = await errorOf(
      fetchModelFiles({ kind: 'files', files: new Map([...files].filter(([k]) => k !== 'm/tokenizer.json')), id: 'm' }),
    );
    expect([tok.kind, tok.url]).toEqual(['missing-tokenizer', null]);
    expect(tok.message).toMatch(
      /^tokenizer\.json is not among the picked files\. Pick the whole model folder \("m"\) as save_pretrained\(\) writes it/,
    );
    const none = await errorOf(fetchModelFiles({ kind: 'files', files, id: 'm' }));
    expect(none.kind).toBe('missing-weights');
    const noConfig = await errorOf(fetchModelFiles({ kind: 'files', files: new Map([['m/model.safetensors', new Blob([])]]), id: 'm' }));
    expect([noConfig.kind, noConfig.file]).toEqual(['missing-config', 'config.json']);
    expect(noConfig.message).toMatch(
      /^config\.json is missing from the picked files \(m\/model\.safetensors\): pick the whole model folder/,
    );
  });

  it("chat_template.jinja, where transformers saves the template apart, replaces tokenizer_config.json's", async () => {
    const weights = new Blob([new Uint8Array(readFileSync(join(FIXTURES_DIR, 'llama-gqa-bf16', 'model.safetensors')))]);
    const files = new Map<string, Blob>([
      ['m/config.json', new Blob(['{"a":1}'])],
      ['m/tokenizer.json', new Blob(['{}'])],
      ['m/tokenizer_config.json', new Blob(['{"eos_token":"</s>","chat_template":"old"}'])],
      ['m/model.safetensors', weights],
    ]);
    /** The tokenizer config as fetched, and the file its chat template came from (named in the tokenizer's messages). */
    const config = async (extra: [string, Blob][]) => {
      const got = await fetchModelFiles({ kind: 'files', files: new Map([...files, ...extra]), id: 'm' });
      return { ...JSON.parse(got.tokenizerConfig), from: got.chatTemplateFile };
    };
    expect(await config([])).toEqual({ eos_token: '</s>', chat_template: 'old' });
    expect(await config([['m/chat_template.jinja', new Blob(['{{ messages[0].content }} ✓\n'])]])).toEqual({
      eos_token: '</s>',
      chat_template: '{{ messages[0].content }} ✓\n',
      from: 'chat_template.jinja',
    });
    const page = new Blob(['<!DOCTYPE html>\n<html><body>app</body></html>']); // a server's fallback page, not a template
    expect(await config([['m/chat_template.jinja', page]])).toEqual({ eos_token: '</s>', chat_template: 'old' });
    const bad = await errorOf(config([['m/chat_template.jinja', new Blob([new Uint8Array([0x7b, 0xff])])]]));
    expect([bad.kind, bad.file]).toEqual(['corrupt', 'chat_template.jinja']);
    expect(bad.message).toMatch(/^chat_template\.jinja from .* is unusable: it is not UTF-8 text\./);
  });

  it('generation_config.json and special_tokens_map.json pass through as stored; one that is not a JSON object is left out', async () => {
    const weights = new Blob([new Uint8Array(readFileSync(join(FIXTURES_DIR, 'llama-gqa-bf16', 'model.safetensors')))]);
    const base: [string, Blob][] = [
      ['m/config.json', new Blob(['{"a":1}'])],
      ['m/tokenizer.json', new Blob(['{}'])],
      ['m/tokenizer_config.json', new Blob(['{}'])],
      ['m/model.safetensors', weights],
    ];
    const passed = async (extra: [string, Blob][]) =>
      Object.fromEntries(
        (await fetchModelFiles({ kind: 'files', files: new Map([...base, ...extra]), id: 'm' }, { passThrough: true })).passThrough,
      );
    expect(await passed([])).toEqual({});
    // Loading for training does not read them.
    const loaded = await fetchModelFiles({
      kind: 'files',
      files: new Map([...base, ['m/generation_config.json', new Blob(['{}'])]]),
      id: 'm',
    });
    expect(loaded.passThrough.size).toBe(0);
    const generation = '{\n  "eos_token_id": [151645, 151643],\n  "temperature": 0.7\n}\n';
    const special = '{"eos_token": "<|im_end|>"}';
    expect(
      await passed([
        ['m/generation_config.json', new Blob([generation])],
        ['m/special_tokens_map.json', new Blob([special])],
      ]),
    ).toEqual({
      'generation_config.json': generation,
      'special_tokens_map.json': special,
    });
    // transformers derives a generation config when the file is not valid JSON: so does the merged export.
    for (const broken of ['{"eos_token_id": ', '[1, 2]', '<!DOCTYPE html><html></html>'])
      expect(await passed([['m/generation_config.json', new Blob([broken])]]), broken).toEqual({});
  });
});

describe('weights are read a range at a time, never whole', () => {
  const folder = join(FIXTURES_DIR, 'llama-gqa-bf16');
  const disk = (f: string) => new Uint8Array(readFileSync(join(folder, f)));
  let server: Server;
  let base: string;
  let honourRanges = true;
  let failTensors = false;
  const requests: { file: string; range: string | null }[] = [];

  beforeAll(async () => {
    // A folder server like the CLI's (apps/cli/src/mount.ts): one "bytes=a-b" range, or the whole file.
    server = createServer((req, res) => {
      const file = decodeURIComponent((req.url ?? '/').slice(1));
      const range = req.headers.range ?? null;
      requests.push({ file, range });
      let bytes: Uint8Array;
      try {
        bytes = disk(file);
      } catch {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
      if (failTensors && m && Number(m[1]) > 0) {
        res.writeHead(500).end();
        return;
      }
      if (!m || !honourRanges) {
        res.writeHead(200, { 'Content-Length': String(bytes.length) }).end(Buffer.from(bytes));
        return;
      }
      const [start, end] = [Number(m[1]), Math.min(Number(m[2]), bytes.length - 1)];
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': String(end - start + 1) });
      res.end(Buffer.from(bytes.subarray(start, end + 1)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('a server that answers Range: model.safetensors is never fetched whole, and reads give the file as on disk', async () => {
    requests.length = 0;
    const got = await fetchModelFiles({ kind: 'url', baseUrl: base, id: 'm' }, { cache: false });
    const weights = got.safetensors.get('model.safetensors')!;
    const original = disk('model.safetensors');
    expect(weights.size).toBe(original.length);
    const parsed = parseSafetensors('model.safetensors', original);
    const t = parsed.tensors.get('model.layers.0.mlp.down_proj.weight')!;
    const at = [parsed.dataOffset + t.begin, parsed.dataOffset + t.end] as const;
    expect(Buffer.from(await weights.read(...at, 'a tensor')).equals(Buffer.from(original.subarray(...at)))).toBe(true);
    const weightRequests = requests.filter((r) => r.file === 'model.safetensors');
    expect(weightRequests.length).toBeGreaterThan(1);
    expect(weightRequests.every((r) => r.range !== null)).toBe(true);
    expect(weightRequests.at(-1)!.range).toBe(`bytes=${at[0]}-${at[1] - 1}`);
  });

  it('a server that ignores Range still loads (the file is read whole, the one case that holds it)', async () => {
    honourRanges = false;
    try {
      const got = await fetchModelFiles({ kind: 'url', baseUrl: base, id: 'm' }, { cache: false });
      expect(Buffer.from(await readWhole(got.safetensors.get('model.safetensors')!)).equals(Buffer.from(disk('model.safetensors')))).toBe(
        true,
      );
    } finally {
      honourRanges = true;
    }
  });

  it('a tensor read that fails names the tensor, the file, its bytes and the URL', async () => {
    const got = await fetchModelFiles({ kind: 'url', baseUrl: base, id: 'm' }, { cache: false });
    failTensors = true;
    try {
      const e = await got.safetensors
        .get('model.safetensors')!
        .read(1000, 2000, 'tensor "lm_head.weight"')
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ModelSourceError);
      expect((e as ModelSourceError).kind).toBe('network');
      expect((e as Error).message).toBe(
        `Could not read tensor "lm_head.weight" of model.safetensors (bytes 1000..2000) from ${base}model.safetensors: the server answered 500, not 206 Partial Content. Check that the server is still running and the file unchanged, then load again.`,
      );
    } finally {
      failTensors = false;
    }
  });
});
