// Where a checkpoint comes from: the Hugging Face Hub, a folder served over HTTP, or files the user picked.
// Environment-neutral (a Web Worker or a page): fetch, streams and Cache Storage, no DOM, no Node APIs.
//
// A checkpoint is the HF layout (DESIGN.md, "Checkpoints in"): config.json, tokenizer.json, tokenizer_config.json
// (and chat_template.jinja where the template was saved apart; generation_config.json and special_tokens_map.json,
// where present, only to copy into a merged export), and model.safetensors, or
// model.safetensors.index.json and every shard it names. Downloads stream with progress per file, land in Cache
// Storage only when complete and valid, and fail with a ModelSourceError that names the file, the URL and what to do.
// Cancelling (AbortSignal) rejects with the signal's reason, an AbortError by default, never with
// a ModelSourceError, so a caller can tell "the user stopped it" from "it broke".
import { checkShardIndex, type ParsedSafetensors, parseSafetensors, parseShardIndex } from './safetensors.ts';
import { blobWeightFile, bytesWeightFile, readSafetensorsHeader, type WeightFile } from './weight-file.ts';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
/** The Cache Storage bucket; bump the suffix if what is stored (or how it is keyed) ever changes. */
export const MODEL_CACHE = 'webtune-models-v1';

export type ModelSource =
  /** A Hub model repo: `{endpoint}/{repo}/resolve/{revision}/{file}`; revision "main" and endpoint huggingface.co by default. */
  | { kind: 'hub'; repo: string; revision?: string; endpoint?: string; token?: string }
  /**
   * A folder served over HTTP (the embedded demo model, the CLI's local folder). A relative baseUrl resolves against
   * `location` (the page, or in a worker the worker script): prefer a root-relative path ("/models/demo/") or a full URL.
   */
  | { kind: 'url'; baseUrl: string; id: string }
  /** Files the user picked: relative paths (a folder prefix such as "MyModel/" is fine) -> Blob. */
  | { kind: 'files'; files: Map<string, Blob>; id: string };

export interface ModelFiles {
  /** The repo id (hub) or the given id: what PEFT's `base_model_name_or_path` should say. */
  id: string;
  config: string;
  tokenizerJson: string;
  tokenizerConfig: string;
  /**
   * The file tokenizerConfig's "chat_template" came from: chat_template.jinja where that file replaced the config's
   * template, so messages about the template name the file to fix; absent when it is tokenizer_config.json's own.
   */
  chatTemplateFile?: 'chat_template.jinja';
  /**
   * The base's generation_config.json and special_tokens_map.json where it has them (JSON text as stored), read only
   * when options.passThrough asks: a merged export copies them as they are (export/hf-folder.ts), as save_pretrained
   * would; nothing else reads them.
   */
  passThrough: Map<string, string>;
  /**
   * File name -> the file, read a range at a time: `model.safetensors`, or every shard named by the index (sorted).
   * Their headers are checked; their tensors are read when the model is uploaded (model/weights.ts).
   */
  safetensors: Map<string, WeightFile>;
}

export interface DownloadProgress {
  file: string;
  loaded: number;
  /** Content-Length (or the Blob's size) when known. */
  total: number | null;
  /** Served from Cache Storage, not the network. */
  cached: boolean;
}

export interface FetchModelOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /**
   * Read from and write to Cache Storage ('webtune-models-v1', keyed by the full URL, revision included); default true
   * for hub and url sources (files are never cached). A branch such as "main" is kept as first downloaded: pin a commit
   * hash for reproducible runs, or clearModelCache() to pick up new commits.
   */
  cache?: boolean;
  /** Also read the files a merged export copies (ModelFiles.passThrough); loading for training needs none of them. */
  passThrough?: boolean;
}

export type ModelSourceErrorKind =
  /** The source itself is malformed: bad repo id, endpoint, revision, token or base URL. */
  | 'invalid-source'
  /** 401, or 403: gated or private. */
  | 'unauthorized'
  /** 404: no such repo, revision or file. */
  | 'not-found'
  /** Any other HTTP status. */
  | 'http'
  /** The request never got an answer, or the connection dropped mid-body. */
  | 'network'
  /** Fewer bytes arrived than the server announced. */
  | 'truncated'
  /** The file arrived but is not what it claims (JSON that does not parse, a broken safetensors header or index). */
  | 'corrupt'
  | 'missing-config'
  | 'missing-tokenizer'
  /** Weights only as PyTorch pickles (.bin / .pth). */
  | 'no-safetensors'
  /** No weights at all, or a shard named by the index is absent. */
  | 'missing-weights';

export class ModelSourceError extends Error {
  override name = 'ModelSourceError';
  constructor(
    readonly kind: ModelSourceErrorKind,
    message: string,
    /** The file concerned (e.g. "tokenizer.json"), or null when the problem is the source itself. */
    readonly file: string | null = null,
    /** Where it was fetched from; null for picked files. */
    readonly url: string | null = null,
    /** The HTTP status, when there was one. */
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a cancellation (the signal's default reason, or fetch's own AbortError). */
export function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

// ---------------------------------------------------------------------------------------------------------------------
// Names and URLs

const REPO_PART = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const EXAMPLE_ID = 'HuggingFaceTB/SmolLM2-135M-Instruct';

/**
 * Checks a Hub model id: "owner/name", each part letters, digits, "-", "_" and ".", not starting or ending with "-" or
 * ".", without "--" or "..", at most 96 characters (the Hub's own rules). Throws a ModelSourceError saying what is wrong.
 */
export function validateRepoId(repo: string): void {
  const fail = (why: string) =>
    new ModelSourceError(
      'invalid-source',
      `"${repo}" is not a Hugging Face model id: ${why}. Ids look like "owner/name", e.g. "${EXAMPLE_ID}".`,
    );
  if (typeof repo !== 'string' || repo === '') throw fail('it is empty');
  if (/^https?:\/\//i.test(repo) || repo.includes('huggingface.co/')) {
    const m = /huggingface\.co\/([^/?#\s]+\/[^/?#\s]+)/i.exec(repo);
    throw fail(`that is a URL; give the id${m ? ` ("${m[1]}")` : ''} instead`);
  }
  if (repo !== repo.trim()) throw fail('it has leading or trailing spaces');
  const parts = repo.split('/');
  if (parts.length !== 2) {
    throw fail(
      parts.length === 1
        ? 'it has no owner (legacy ids such as "gpt2" now live under an owner, e.g. "openai-community/gpt2")'
        : 'it has more than one "/"',
    );
  }
  for (const part of parts) {
    if (part === '') throw fail('the owner or the name is empty');
    if (!REPO_PART.test(part)) {
      throw fail(`"${part}" may hold only letters, digits, "-", "_" and ".", and must not start or end with "-" or "."`);
    }
    if (part.includes('--') || part.includes('..')) throw fail(`"${part}" contains "--" or ".."`);
  }
  if (repo.length > 96) throw fail(`it is ${repo.length} characters long; the Hub allows 96`);
}

function cleanEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ModelSourceError(
      'invalid-source',
      `Hub endpoint "${endpoint}" is not an absolute URL; use e.g. "${DEFAULT_HUB_ENDPOINT}" (or your mirror's address).`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ModelSourceError('invalid-source', `Hub endpoint "${endpoint}" must be an http(s) URL, e.g. "${DEFAULT_HUB_ENDPOINT}".`);
  }
  return endpoint.replace(/\/+$/, '');
}

function checkRevision(revision: string): void {
  if (typeof revision !== 'string' || revision.trim() === '' || revision !== revision.trim()) {
    throw new ModelSourceError(
      'invalid-source',
      `revision "${revision}" is not valid: give a branch ("main"), a tag, or a commit hash, without surrounding spaces.`,
    );
  }
}

/**
 * `{endpoint}/{repo}/resolve/{revision}/{path}`, as huggingface_hub's `hf_hub_url` builds it: the revision is escaped
 * whole ("refs/pr/1" -> "refs%2Fpr%2F1"), the path segment by segment. Throws on a bad repo id, endpoint or revision.
 */
export function hubUrl(endpoint: string, repo: string, revision: string, path: string): string {
  validateRepoId(repo);
  checkRevision(revision);
  const file = path.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
  return `${cleanEndpoint(endpoint)}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** One line for the UI and the CLI. Never shows the token. */
export function describeSource(s: ModelSource): string {
  switch (s.kind) {
    case 'hub': {
      const endpoint = s.endpoint ? s.endpoint.replace(/\/+$/, '') : DEFAULT_HUB_ENDPOINT;
      const where = endpoint === DEFAULT_HUB_ENDPOINT ? 'Hugging Face Hub' : `Hub at ${endpoint}`;
      const extras = [`revision ${s.revision ?? 'main'}`];
      if (s.token) extras.push('with an access token');
      return `${s.repo} (${where}, ${extras.join(', ')})`;
    }
    case 'url':
      return `${s.id} (${s.baseUrl})`;
    case 'files': {
      const n = s.files.size;
      return `${s.id} (${n} local file${n === 1 ? '' : 's'})`;
    }
  }
}

/**
 * Where a source's files are, to name one of them in a message as `${sourceFolder(s)}/tokenizer.json`: the folder's
 * URL (the CLI turns its loopback URL back into the path the user gave), the Hub id with a revision other than main,
 * or the picked folder's name.
 */
export function sourceFolder(s: ModelSource): string {
  switch (s.kind) {
    case 'hub':
      return s.revision && s.revision !== 'main' ? `${s.repo}@${s.revision}` : s.repo;
    case 'url':
      return s.baseUrl.replace(/\/+$/, '');
    case 'files':
      return s.id;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Origins: one way to read a named file per source kind

/** A file that is not there: the server's explanation when it gave one (Hub error code, JSON "error"). */
interface Missing {
  missing: true;
  url: string | null;
  code: string | null;
  detail: string | null;
}

interface ReadContext {
  signal: AbortSignal | undefined;
  onProgress: ((p: DownloadProgress) => void) | undefined;
  cache: Cache | null;
  /** Throws when the bytes are not a valid file of their kind; called before anything is cached. */
  validate: (bytes: Uint8Array) => void;
}

interface Origin {
  kind: ModelSource['kind'];
  id: string;
  /** Where a file comes from, for messages: its URL, or "the picked files". */
  where(file: string): string;
  read(file: string, ctx: ReadContext): Promise<Uint8Array | Missing>;
  /** A weights file, opened to be read a range at a time (its progress reported as it is downloaded or opened). */
  openWeights(file: string, ctx: ReadContext): Promise<WeightFile | Missing>;
  /** The name of a pickled PyTorch weights file the source has (probed, not downloaded), or null. */
  findPickle(signal: AbortSignal | undefined): Promise<string | null>;
  /** Sentences for a 404 on the given file. */
  notFoundHelp(file: string, m: Missing): string;
  /** Sentences for a 401/403. */
  authHelp(status: number): string;
}

function openOrigin(source: ModelSource): Origin {
  switch (source.kind) {
    case 'hub':
      return hubOrigin(source);
    case 'url':
      return urlOrigin(source);
    case 'files':
      return filesOrigin(source);
    default:
      throw new ModelSourceError(
        'invalid-source',
        `unknown model source kind "${(source as { kind?: unknown }).kind}": use "hub", "url" or "files".`,
      );
  }
}

function hubOrigin(s: Extract<ModelSource, { kind: 'hub' }>): Origin {
  validateRepoId(s.repo);
  const endpoint = cleanEndpoint(s.endpoint ?? DEFAULT_HUB_ENDPOINT);
  const revision = s.revision ?? 'main';
  checkRevision(revision);
  const token = s.token ?? '';
  if (token !== '' && !/^[\x21-\x7e]+$/.test(token)) {
    throw new ModelSourceError(
      'invalid-source',
      'the access token contains spaces, line breaks or non-ASCII characters: paste it again exactly as https://huggingface.co/settings/tokens shows it (it starts with "hf_").',
    );
  }
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const page = `${endpoint}/${s.repo}`;
  const url = (file: string) => hubUrl(endpoint, s.repo, revision, file);
  const origin: Origin = {
    kind: 'hub',
    id: s.repo,
    where: url,
    read: (file, ctx) => download(url(file), file, headers, ctx, origin.authHelp),
    openWeights: (file, ctx) => openRemoteWeights(url(file), file, headers, ctx, origin.authHelp),
    findPickle: (signal) => probeAll(PICKLE_WEIGHTS, url, headers, signal),
    notFoundHelp(file, m) {
      if (m.code === 'RepoNotFound' || /repository not found/i.test(m.detail ?? '')) {
        return `There is no model repo "${s.repo}" on ${endpoint}: check the id (it is case-sensitive, "owner/name" as in the address ${page}).${token ? '' : ' If it is private, pass an access token that can read it.'}`;
      }
      if (m.code === 'RevisionNotFound' || /invalid rev/i.test(m.detail ?? '')) {
        return `The repo "${s.repo}" has no revision "${revision}": give an existing branch, tag or commit hash (see ${page}/tree/main), or leave the revision out for "main".`;
      }
      if (file === 'config.json') {
        return `"${s.repo}" at revision "${revision}" has no config.json, so it is not a transformers checkpoint (GGUF-, ONNX- or MLX-only repos cannot be fine-tuned here): pick the original model repo. If the repo itself does not exist, check the id${token ? '' : ', or pass an access token if it is private'}.`;
      }
      return `"${s.repo}" at revision "${revision}" has no ${file} (see the file list at ${page}/tree/${encodeURIComponent(revision)}).`;
    },
    authHelp(status) {
      const howTo = `accept its license or request access on ${page} while logged in, then pass an access token with read access (create one at ${endpoint === DEFAULT_HUB_ENDPOINT ? endpoint : DEFAULT_HUB_ENDPOINT}/settings/tokens)`;
      if (!token) return `"${s.repo}" is gated or private (or does not exist): ${howTo}.`;
      if (status === 401) {
        return `The access token was refused: check that it is complete, not expired or revoked, and that it belongs to an account that can read "${s.repo}" (${howTo}).`;
      }
      return `Your token cannot read "${s.repo}": it is gated and your access is not granted yet, or the token lacks read permission. ${howTo[0].toUpperCase()}${howTo.slice(1)}.`;
    },
  };
  return origin;
}

function urlOrigin(s: Extract<ModelSource, { kind: 'url' }>): Origin {
  let base: URL;
  try {
    base = new URL(s.baseUrl.endsWith('/') ? s.baseUrl : `${s.baseUrl}/`, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    throw new ModelSourceError(
      'invalid-source',
      `model base URL "${s.baseUrl}" is not a URL (a relative one needs a page or worker to resolve against): give e.g. "http://127.0.0.1:8080/models/my-model/".`,
    );
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new ModelSourceError('invalid-source', `model base URL "${s.baseUrl}" must be http(s).`);
  }
  const url = (file: string) => new URL(file.split('/').map(encodeURIComponent).join('/'), base).href;
  const authHelp = (status: number) => `The server at ${base.origin} answered ${status}: serve the model folder without authentication.`;
  return {
    kind: 'url',
    id: s.id,
    where: url,
    read: (file, ctx) => download(url(file), file, {}, ctx, authHelp),
    openWeights: (file, ctx) => openRemoteWeights(url(file), file, {}, ctx, authHelp),
    findPickle: (signal) => probeAll(PICKLE_WEIGHTS, url, {}, signal),
    notFoundHelp: (file) =>
      file === 'config.json'
        ? `Nothing like a model folder is served at ${base.href}: check that the base URL is the folder holding config.json.`
        : `The model folder served at ${base.href} has no ${file}: copy it there from the original checkpoint.`,
    authHelp,
  };
}

function filesOrigin(s: Extract<ModelSource, { kind: 'files' }>): Origin {
  // Normalise the picked paths ("./x", "a\\b") and find the model folder: the shallowest config.json.
  const byPath = new Map<string, Blob>();
  for (const [path, blob] of s.files)
    byPath.set(
      path
        .replace(/\\/g, '/')
        .replace(/^(\.\/)+/, '')
        .replace(/^\/+/, ''),
      blob,
    );
  const configs = [...byPath.keys()].filter((p) => p === 'config.json' || p.endsWith('/config.json'));
  configs.sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
  const names = [...byPath.keys()].sort();
  if (configs.length === 0) {
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, ... (${names.length} in all)` : '');
    throw new ModelSourceError(
      'missing-config',
      `config.json is missing from the picked files (${names.length === 0 ? 'none were given' : shown}): pick the whole model folder (config.json, tokenizer.json, tokenizer_config.json and the .safetensors weights), as saved by save_pretrained() or downloaded from the Hub.`,
      'config.json',
    );
  }
  const dir = configs[0].slice(0, -'config.json'.length);
  const where = (file: string) => `the picked files${dir ? ` (folder "${dir.replace(/\/$/, '')}")` : ''}, as ${dir}${file}`;
  return {
    kind: 'files',
    id: s.id,
    where,
    async read(file, ctx) {
      const blob = byPath.get(dir + file);
      if (!blob) return { missing: true, url: null, code: null, detail: null };
      return readBlob(blob, file, ctx);
    },
    async openWeights(file, ctx) {
      const blob = byPath.get(dir + file);
      if (!blob) return { missing: true, url: null, code: null, detail: null };
      rethrowIfAborted(ctx.signal);
      ctx.onProgress?.({ file, loaded: blob.size, total: blob.size, cached: false });
      return blobWeightFile(
        blob,
        (what, e) =>
          new ModelSourceError(
            'network',
            `Could not read ${what} of ${file} from the picked files (${errorText(e)}): was the file moved or changed? Pick it again.`,
            file,
          ),
      );
    },
    findPickle: async () => names.find((n) => n.startsWith(dir) && /\.(bin|pth|pt)$/.test(n))?.slice(dir.length) ?? null,
    notFoundHelp: () =>
      `Pick the whole model folder${dir ? ` ("${dir.replace(/\/$/, '')}")` : ''} as save_pretrained() writes it or the Hub lists it.`,
    authHelp: () => '',
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Transfers

async function openCache(): Promise<Cache | null> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) return null; // Node, or an insecure context
  try {
    return await storage.open(MODEL_CACHE);
  } catch {
    return null; // e.g. private browsing; downloading still works
  }
}

/** Drops every cached model file (for a "free disk space" button and for tests). */
export async function clearModelCache(): Promise<void> {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  if (storage) await storage.delete(MODEL_CACHE);
}

const CACHED_BYTES = 'x-webtune-bytes';

function rethrowIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The download was cancelled.', 'AbortError');
}

/** GET `url`: the response when it is 2xx, Missing for a 404 (with the server's explanation), else the error to show. */
async function request(
  url: string,
  file: string,
  headers: Record<string, string>,
  ctx: ReadContext,
  authHelp: (status: number) => string,
): Promise<Response | Missing> {
  const { signal } = ctx;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal });
  } catch (e) {
    rethrowIfAborted(signal);
    throw new ModelSourceError(
      'network',
      `Could not download ${file} from ${url}: the request failed (${errorText(e)}). Are you offline, or is ${new URL(url).origin} unreachable (down, blocked by a proxy or firewall, or not allowing cross-origin requests)?`,
      file,
      url,
      null,
      { cause: e },
    );
  }
  if (res.status === 404) {
    const detail = await errorDetail(res);
    return { missing: true, url, code: res.headers.get('x-error-code'), detail };
  }
  if (!res.ok) throw await httpError(res, file, url, authHelp);
  return res;
}

async function download(
  url: string,
  file: string,
  headers: Record<string, string>,
  ctx: ReadContext,
  authHelp: (status: number) => string,
): Promise<Uint8Array | Missing> {
  const { signal, onProgress, cache } = ctx;
  rethrowIfAborted(signal);
  if (cache) {
    const hit = await cache.match(url).catch(() => undefined);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      rethrowIfAborted(signal);
      if (String(bytes.length) === hit.headers.get(CACHED_BYTES)) {
        onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached: true });
        return bytes;
      }
      await cache.delete(url).catch(() => false); // damaged entry: fetch it again
    }
  }

  const res = await request(url, file, headers, ctx, authHelp);
  if ('missing' in res) return res;
  return receive(res, url, file, ctx);
}

/** The bytes of a body's length, or null when it is not known (none announced, or compressed). */
function announcedLength(res: Response): number | null {
  const length = res.headers.get('content-length');
  const encoding = res.headers.get('content-encoding');
  // With Content-Encoding the length counts compressed bytes; the body stream yields decoded ones.
  return length !== null && /^\d+$/.test(length) && (!encoding || encoding === 'identity') ? Number(length) : null;
}

/** Reads a 2xx response's whole body with progress, checks it is complete and valid, and caches it (ctx.cache). */
async function receive(res: Response, url: string, file: string, ctx: ReadContext): Promise<Uint8Array> {
  const { signal, cache } = ctx;
  const total = announcedLength(res);
  const bytes = await readStream(res.body, file, total, ctx, (loaded, e) => {
    rethrowIfAborted(signal);
    return brokenOff(url, file, loaded, total, e);
  });
  if (total !== null && bytes.length < total) throw cutShort(url, file, bytes.length, total);
  ctx.validate(bytes);
  if (cache) {
    const stored = new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream', [CACHED_BYTES]: String(bytes.length) },
    });
    // A full disk (quota) is not a failed download: the model is here, it just will not load instantly next time.
    await cache.put(url, stored).catch((e) => console.warn(`webtune: could not cache ${url}: ${errorText(e)}`));
  }
  return bytes;
}

function brokenOff(url: string, file: string, loaded: number, total: number | null, e: unknown): ModelSourceError {
  return new ModelSourceError(
    'network',
    `The download of ${file} from ${url} broke off after ${formatBytes(loaded)}${total === null ? '' : ` of ${formatBytes(total)}`} (${errorText(e)}): check your connection and try again; nothing partial was kept.`,
    file,
    url,
    null,
    { cause: e },
  );
}

function cutShort(url: string, file: string, loaded: number, total: number): ModelSourceError {
  return new ModelSourceError(
    'truncated',
    `The download of ${file} from ${url} ended after ${formatBytes(loaded)} of the ${formatBytes(total)} the server announced: try again; nothing partial was kept.`,
    file,
    url,
  );
}

/**
 * A weights file over HTTP, never held whole: from Cache Storage (the entry's Blob, read by slices), else streamed into
 * Cache Storage and then read from there, else (no cache) read by Range requests when the server answers them. A server
 * that ignores Range, or a body of unknown length, is read whole as before: the one case that still holds the file.
 */
async function openRemoteWeights(
  url: string,
  file: string,
  headers: Record<string, string>,
  ctx: ReadContext,
  authHelp: (status: number) => string,
): Promise<WeightFile | Missing> {
  const { signal, onProgress, cache } = ctx;
  rethrowIfAborted(signal);
  const cachedFile = (blob: Blob) =>
    blobWeightFile(blob, (what, e) => {
      rethrowIfAborted(signal);
      return new ModelSourceError(
        'network',
        `Could not read ${what} of ${file} from the browser's cache of ${url} (${errorText(e)}): clear the model cache and load it again.`,
        file,
        url,
        null,
        { cause: e },
      );
    });
  if (cache) {
    const hit = await cachedBlob(cache, url);
    if (hit) {
      onProgress?.({ file, loaded: hit.size, total: hit.size, cached: true });
      return cachedFile(hit);
    }
  }
  const res = await request(url, file, cache ? headers : { ...headers, Range: 'bytes=0-7' }, ctx, authHelp);
  if ('missing' in res) return res;
  const size = res.status === 206 ? rangeTotal(res) : null;
  if (size !== null) {
    await res.body?.cancel().catch(() => {});
    onProgress?.({ file, loaded: 0, total: size, cached: false });
    return rangeWeightFile(url, file, headers, size, signal);
  }
  const total = res.status === 206 ? null : announcedLength(res);
  if (cache && total !== null && res.body) {
    const blob = await streamIntoCache(cache, res, url, file, total, ctx);
    if (blob) return cachedFile(blob);
    // Not stored (a full disk): the body is spent, so it is fetched again and held in memory this once.
    return bytesWeightFile(await receive(await requestOk(url, file, headers, ctx, authHelp), url, file, { ...ctx, cache: null }));
  }
  if (res.status === 206) return bytesWeightFile(await receive(await requestOk(url, file, headers, ctx, authHelp), url, file, ctx));
  return bytesWeightFile(await receive(res, url, file, ctx));
}

/** request() for a file already seen to exist: a 404 now is an error like any other. */
async function requestOk(
  url: string,
  file: string,
  headers: Record<string, string>,
  ctx: ReadContext,
  authHelp: (status: number) => string,
): Promise<Response> {
  const res = await request(url, file, headers, ctx, authHelp);
  if ('missing' in res)
    throw new ModelSourceError('network', `${file} disappeared from ${url} while it was being read: try again.`, file, url, 404);
  return res;
}

/** A cached entry's Blob when it is whole (its recorded length), else null (a damaged entry is dropped). */
async function cachedBlob(cache: Cache, url: string): Promise<Blob | null> {
  const hit = await cache.match(url).catch(() => undefined);
  if (!hit) return null;
  const blob = await hit.blob().catch(() => null);
  if (blob && String(blob.size) === hit.headers.get(CACHED_BYTES)) return blob;
  await cache.delete(url).catch(() => false);
  return null;
}

/** The full size from a 206's Content-Range ("bytes 0-7/12345"), or null when it is not given. */
function rangeTotal(res: Response): number | null {
  const m = /^bytes \d+-\d+\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * Streams a body into Cache Storage with progress, never holding it: the entry exists only once the whole body is
 * stored (Cache.put commits at the end), so a cancelled, broken or short download leaves nothing. Returns the entry's
 * Blob, or null when the cache refused it (quota).
 */
async function streamIntoCache(
  cache: Cache,
  res: Response,
  url: string,
  file: string,
  total: number,
  ctx: ReadContext,
): Promise<Blob | null> {
  const { signal, onProgress } = ctx;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let loaded = 0;
  /** Why the body is not the file (broken off, short, too long): set before the stream errors, so put's rejection is ours. */
  let failure: ModelSourceError | null = null;
  const fail = (controller: ReadableStreamDefaultController<Uint8Array>, e: ModelSourceError) => {
    failure = e;
    controller.error(e);
  };
  onProgress?.({ file, loaded: 0, total, cached: false });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (e) {
        return fail(controller, brokenOff(url, file, loaded, total, e));
      }
      if (step.done) {
        if (loaded < total) fail(controller, cutShort(url, file, loaded, total));
        else controller.close();
        return;
      }
      loaded += step.value.length;
      if (loaded > total) return fail(controller, brokenOff(url, file, loaded, total, new Error(`more than the ${total} bytes announced`)));
      controller.enqueue(step.value);
      onProgress?.({ file, loaded, total, cached: false });
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const headers = { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream', [CACHED_BYTES]: String(total) };
  try {
    await cache.put(url, new Response(body, { headers }));
  } catch (e) {
    rethrowIfAborted(signal);
    if (failure) {
      await cache.delete(url).catch(() => false);
      throw failure;
    }
    console.warn(`webtune: could not cache ${url}: ${errorText(e)}`); // a full disk: not a failed download
    return null;
  }
  rethrowIfAborted(signal);
  const blob = await cachedBlob(cache, url);
  if (!blob) throw brokenOff(url, file, loaded, total, new Error('the cached copy could not be read back'));
  return blob;
}

/** A file read by HTTP Range requests, one per tensor (a server that answered 206 to the first). */
function rangeWeightFile(
  url: string,
  file: string,
  headers: Record<string, string>,
  size: number,
  signal: AbortSignal | undefined,
): WeightFile {
  return {
    size,
    async read(begin, end, what) {
      if (end <= begin) return new Uint8Array(0);
      const fail = (why: string, e?: unknown) => {
        rethrowIfAborted(signal);
        return new ModelSourceError(
          'network',
          `Could not read ${what} of ${file} (bytes ${begin}..${end}) from ${url}: ${why}. Check that the server is still running and the file unchanged, then load again.`,
          file,
          url,
          null,
          { cause: e },
        );
      };
      let res: Response;
      try {
        res = await fetch(url, { headers: { ...headers, Range: `bytes=${begin}-${end - 1}` }, signal });
      } catch (e) {
        throw fail(`the request failed (${errorText(e)})`, e);
      }
      if (res.status !== 206) throw fail(`the server answered ${res.status}, not 206 Partial Content`);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        throw fail(`the body broke off (${errorText(e)})`, e);
      }
      if (bytes.length !== end - begin) throw fail(`${bytes.length} bytes came instead of ${end - begin}`);
      return bytes;
    },
  };
}

async function readBlob(blob: Blob, file: string, ctx: ReadContext): Promise<Uint8Array> {
  rethrowIfAborted(ctx.signal);
  const bytes = await readStream(blob.stream(), file, blob.size, ctx, (loaded, e) => {
    rethrowIfAborted(ctx.signal);
    return new ModelSourceError(
      'network',
      `Could not read ${file} from the picked files after ${formatBytes(loaded)} (${errorText(e)}): was the file moved or changed? Pick it again.`,
      file,
    );
  });
  ctx.validate(bytes);
  return bytes;
}

/** Reads a body to the end with progress, into one buffer when the length is known. Honours the signal between chunks. */
async function readStream(
  body: ReadableStream<Uint8Array> | null,
  file: string,
  total: number | null,
  ctx: ReadContext,
  broken: (loaded: number, e: unknown) => Error,
): Promise<Uint8Array> {
  const { signal, onProgress } = ctx;
  let loaded = 0;
  let buffer = total === null ? null : new Uint8Array(total);
  const chunks: Uint8Array[] = [];
  onProgress?.({ file, loaded: 0, total, cached: false });
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (e) {
        throw broken(loaded, e);
      }
      rethrowIfAborted(signal);
      if (step.done) break;
      const chunk = step.value;
      if (buffer && loaded + chunk.length <= buffer.length) {
        buffer.set(chunk, loaded);
      } else {
        // More than announced (or no length): keep chunks and join at the end.
        if (buffer) {
          chunks.push(buffer.subarray(0, loaded));
          buffer = null;
        }
        chunks.push(chunk);
      }
      loaded += chunk.length;
      onProgress?.({ file, loaded, total: total !== null && loaded <= total ? total : null, cached: false });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
  if (buffer) return loaded === buffer.length ? buffer : buffer.subarray(0, loaded);
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** HEAD each file in turn: the first that exists. Used only to explain a failure, so any error is "no". */
async function probeAll(
  files: string[],
  url: (file: string) => string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<string | null> {
  for (const file of files) {
    try {
      const res = await fetch(url(file), { method: 'HEAD', headers, signal });
      if (res.ok) return file;
    } catch {
      rethrowIfAborted(signal);
    }
  }
  return null;
}

/** The server's own words: the Hub's X-Error-Message header or JSON {"error": ...}, else a short text body. */
async function errorDetail(res: Response): Promise<string | null> {
  const header = res.headers.get('x-error-message');
  let text = '';
  try {
    text = (await res.text()).trim();
  } catch {
    // the body does not matter enough to fail over
  }
  if (header) return header;
  if (!text) return null;
  try {
    const json = JSON.parse(text) as { error?: unknown };
    if (typeof json.error === 'string') return json.error;
  } catch {
    // not JSON
  }
  return /^\s*</.test(text) ? null : text.slice(0, 200); // an HTML error page says nothing useful here
}

async function httpError(res: Response, file: string, url: string, authHelp: (status: number) => string): Promise<ModelSourceError> {
  const detail = await errorDetail(res);
  const said = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}${detail ? ` ("${detail}")` : ''}`;
  const head = `Could not download ${file} from ${url}: the server answered ${said}.`;
  const err = (kind: ModelSourceErrorKind, help: string) => new ModelSourceError(kind, `${head} ${help}`, file, url, res.status);
  if (res.status === 401 || res.status === 403) return err('unauthorized', authHelp(res.status));
  if (res.status === 429)
    return err('http', 'Too many requests: wait a few minutes and try again (an access token raises the Hub limits).');
  if (res.status >= 500) return err('http', 'The server failed: try again later.');
  return err('http', 'Check the source and try again.');
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

// ---------------------------------------------------------------------------------------------------------------------
// The checkpoint

const PICKLE_WEIGHTS = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'model.pth', 'consolidated.00.pth', 'consolidated.pth'];
const CONVERT_HELP =
  'webtune reads only safetensors weights (pickled .bin/.pth files can run code when loaded). Convert once with transformers: ' +
  '`AutoModelForCausalLM.from_pretrained(src).save_pretrained(out, safe_serialization=True)` (also copy the tokenizer with ' +
  '`AutoTokenizer.from_pretrained(src).save_pretrained(out)`), or, for a Hub repo, open a conversion PR with ' +
  'https://huggingface.co/spaces/safetensors/convert and load its revision "refs/pr/<n>".';

/**
 * Downloads (or reads) a checkpoint: config.json, tokenizer.json, tokenizer_config.json, then model.safetensors or,
 * when that is absent, model.safetensors.index.json and each shard it names. Validates what it reads (JSON parses,
 * safetensors headers are sound) before caching it. Rejects with a ModelSourceError, or with the signal's reason when
 * cancelled.
 */
export async function fetchModelFiles(source: ModelSource, options: FetchModelOptions = {}): Promise<ModelFiles> {
  const { signal, onProgress } = options;
  rethrowIfAborted(signal);
  const origin = openOrigin(source);
  const cache = origin.kind !== 'files' && (options.cache ?? true) ? await openCache() : null;

  const read = (file: string, validate: (bytes: Uint8Array) => void) => origin.read(file, { signal, onProgress, cache, validate });
  const jsonText = (file: string) => (bytes: Uint8Array) => {
    decodeJson(origin, file, bytes);
  };
  const safetensors = (file: string) => (bytes: Uint8Array) => {
    try {
      parseSafetensors(file, bytes);
    } catch (e) {
      throw corrupt(origin, file, errorText(e), e);
    }
  };
  const headers = new Map<string, ParsedSafetensors>();
  /** Opens a weights file and checks its header (a corrupt file is dropped from the cache); its tensors are read at upload. */
  const openWeights = async (file: string): Promise<WeightFile | Missing> => {
    const got = await origin.openWeights(file, { signal, onProgress, cache, validate: safetensors(file) });
    if ('missing' in got) return got;
    try {
      headers.set(file, await readSafetensorsHeader(file, got));
    } catch (e) {
      if (e instanceof ModelSourceError || isAbortError(e)) throw e;
      if (cache) await cache.delete(origin.where(file)).catch(() => false);
      throw corrupt(origin, file, errorText(e), e);
    }
    return got;
  };
  const missing = (kind: ModelSourceErrorKind, file: string, m: Missing, extra = '') => {
    const where = m.url ? `${file} was not found at ${m.url}` : `${file} is not among the picked files`;
    const said = m.detail ? ` (the server says "${m.detail}")` : '';
    return new ModelSourceError(kind, `${where}${said}. ${origin.notFoundHelp(file, m)}${extra}`, file, m.url, m.url ? 404 : null);
  };
  const text = async (file: string, kind: ModelSourceErrorKind, extra = '') => {
    const got = await read(file, jsonText(file));
    if ('missing' in got) throw missing(kind, file, got, extra);
    return decodeJson(origin, file, got).text;
  };

  const TOKENIZER_HELP =
    ' webtune needs the fast-tokenizer files; for a model that ships only tokenizer.model or vocab.json/merges.txt, ' +
    '`AutoTokenizer.from_pretrained(src).save_pretrained(out)` in transformers writes tokenizer.json and tokenizer_config.json.';
  const config = await text('config.json', origin.kind === 'files' ? 'missing-config' : 'not-found');
  const tokenizerJson = await text('tokenizer.json', 'missing-tokenizer', TOKENIZER_HELP);
  const tokenizer = withChatTemplateFile(
    await text('tokenizer_config.json', 'missing-tokenizer', TOKENIZER_HELP),
    await read(CHAT_TEMPLATE_FILE, (bytes) => void decodeUtf8(origin, CHAT_TEMPLATE_FILE, bytes)),
    origin,
  );

  const passThrough = new Map<string, string>();
  for (const file of options.passThrough ? PASS_THROUGH_FILES : []) {
    const got = await read(file, () => {});
    const text = 'missing' in got ? null : jsonOrNull(got);
    if (text !== null) passThrough.set(file, text);
  }

  const weights = new Map<string, WeightFile>();
  const single = await openWeights('model.safetensors');
  if (!('missing' in single)) {
    weights.set('model.safetensors', single);
    return { id: origin.id, config, tokenizerJson, ...tokenizer, passThrough, safetensors: weights };
  }

  const INDEX = 'model.safetensors.index.json';
  const indexRead = await read(INDEX, jsonText(INDEX));
  if ('missing' in indexRead) {
    const pickle = await origin.findPickle(signal);
    if (pickle) {
      throw new ModelSourceError(
        'no-safetensors',
        `${origin.id} has PyTorch weights (${pickle}) but neither model.safetensors nor ${INDEX} (looked at ${origin.where('model.safetensors')}). ${CONVERT_HELP}`,
        'model.safetensors',
        single.url,
      );
    }
    throw new ModelSourceError(
      'missing-weights',
      `${origin.id} has no weights: neither model.safetensors (${origin.where('model.safetensors')}) nor ${INDEX} was found. ${origin.notFoundHelp('model.safetensors', single)}`,
      'model.safetensors',
      single.url,
      single.url ? 404 : null,
    );
  }
  let index: ReturnType<typeof parseShardIndex>;
  try {
    index = parseShardIndex(INDEX, decodeJson(origin, INDEX, indexRead).text);
  } catch (e) {
    if (e instanceof ModelSourceError) throw e;
    throw corrupt(origin, INDEX, errorText(e), e);
  }
  for (const shard of index.shards) {
    const got = await openWeights(shard);
    if ('missing' in got) {
      throw missing('missing-weights', shard, got, ` ${INDEX} names it, so the checkpoint is incomplete.`);
    }
    weights.set(shard, got);
  }
  try {
    checkShardIndex(INDEX, index.weightMap, headers);
  } catch (e) {
    throw corrupt(origin, INDEX, errorText(e), e);
  }
  return { id: origin.id, config, tokenizerJson, ...tokenizer, passThrough, safetensors: weights };
}

/** Optional files a merged export copies from the base (ModelFiles.passThrough). */
export const PASS_THROUGH_FILES = ['generation_config.json', 'special_tokens_map.json'] as const;

/**
 * A pass-through file's text when it is a JSON object, else null: one that cannot be read is left out, as
 * transformers' from_pretrained falls back to a generation config derived from config.json when generation_config.json
 * is not valid JSON (the EnvironmentError it raises is caught as a missing file), and as a web server's page for an
 * unknown path (Vite's SPA fallback) is no such file.
 */
function jsonOrNull(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? text : null;
  } catch {
    return null;
  }
}

/**
 * transformers (4.50 on) saves a tokenizer's chat template beside tokenizer_config.json as chat_template.jinja, and
 * reads that file in place of the config's "chat_template" when it is there (tokenization_utils_base.py,
 * _from_pretrained: "Clobbers any template in the config"). The file is optional; when present its text becomes the
 * config's "chat_template", so the tokenizer and its fingerprint see one config, and chatTemplateFile names it for the
 * tokenizer's messages about the template.
 */
const CHAT_TEMPLATE_FILE = 'chat_template.jinja' as const;
function withChatTemplateFile(
  config: string,
  template: Uint8Array | Missing,
  origin: Origin,
): Pick<ModelFiles, 'tokenizerConfig' | 'chatTemplateFile'> {
  const unchanged = { tokenizerConfig: config };
  if ('missing' in template) return unchanged;
  const text = decodeUtf8(origin, CHAT_TEMPLATE_FILE, template);
  // A web server that answers every unknown path with its app's page (Vite's SPA fallback) has no such file.
  if (/^\s*<(!doctype html|html)[\s>]/i.test(text)) return unchanged;
  const parsed = JSON.parse(config) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return unchanged; // the tokenizer refuses it by name
  return { tokenizerConfig: JSON.stringify({ ...parsed, chat_template: text }), chatTemplateFile: CHAT_TEMPLATE_FILE };
}

function decodeUtf8(origin: Origin, file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw corrupt(origin, file, 'it is not UTF-8 text', e);
  }
}

function decodeJson(origin: Origin, file: string, bytes: Uint8Array): { text: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    JSON.parse(text);
  } catch (e) {
    const looksHtml = /^\s*</.test(new TextDecoder().decode(bytes.subarray(0, 64)));
    throw corrupt(
      origin,
      file,
      looksHtml
        ? 'it is an HTML page, not JSON (the server answered with a page instead of the file)'
        : `it is not valid JSON (${errorText(e)})`,
      e,
    );
  }
  return { text };
}

function corrupt(origin: Origin, file: string, problem: string, cause: unknown): ModelSourceError {
  const where = origin.where(file);
  const url = origin.kind === 'files' ? null : where;
  return new ModelSourceError(
    'corrupt',
    `${file} from ${where} is unusable: ${problem}. ${origin.kind === 'files' ? 'Pick the file again, or re-save the model folder.' : 'Check the source serves the original file; nothing was cached.'}`,
    file,
    url,
    null,
    { cause },
  );
}
