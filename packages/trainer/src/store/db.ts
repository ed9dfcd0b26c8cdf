// webtune's persistence: adapters, training checkpoints and cached reference log-probs in IndexedDB (via `idb`).
// Runs in a page or a Web Worker. Big arrays (adapter tensors, optimizer state) live in their own object stores,
// keyed like their metadata, so listing adapters or runs never loads them. Every write is one transaction: it
// lands whole or not at all, so a full disk loses nothing already stored.
import { type DBSchema, type IDBPDatabase, type IDBPTransaction, openDB, type StoreNames } from 'idb';
import type { LoraConfig } from '../model/lora.ts';
import { METHODS, type TrainMethod } from '../train/config.ts';

/** The schema version this code creates and reads. */
export const DB_VERSION = 1;

export interface AdapterTensor {
  /** PEFT key, e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight. */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface AdapterRecord {
  /** A uuid (crypto.randomUUID()). */
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  /** The base model's Hub id or name. */
  baseModel: string;
  method: TrainMethod;
  /** The stage-one adapter a DPO adapter was trained on top of (merged into the base), or null. */
  parentId: string | null;
  lora: LoraConfig;
  /** The run's config in TRL's key names; exported as training_config.json. */
  trainingConfig: Record<string, unknown>;
  /** One entry per logged step, TRL's metric names. */
  metrics: Record<string, number>[];
  tensors: AdapterTensor[];
}

/** What listAdapters returns: everything but the tensors, plus their size. */
export type AdapterSummary = Omit<AdapterRecord, 'tensors'> & {
  tensorCount: number;
  /** Number of float32 parameters over all tensors. */
  parameters: number;
};

export interface CheckpointProgress {
  epoch: number;
  /** Position in the (shuffled) dataset order of the current epoch. */
  cursor: number;
  optimizerStep: number;
  seed: number;
  /** Tokens trained on so far (TRL's num_tokens), so a resumed run keeps counting. */
  numTokens?: number;
  /** load_best_model_at_end: the best evaluation so far (its weights are CheckpointState.bestParams). */
  best?: { step: number; value: number };
}

export interface CheckpointState {
  /** The flat LoRA parameters. */
  params: Float32Array;
  /** AdamW first and second moments. */
  m: Float32Array;
  v: Float32Array;
  /** The adapter's weights at the best evaluation so far (load_best_model_at_end). */
  bestParams?: Float32Array;
}

export interface CheckpointRecord {
  runId: string;
  step: number;
  createdAt: number;
  /** The run's settings in TRL's key names. */
  config: Record<string, unknown>;
  /** What the run was started with (the trainer's TrainRequest; opaque here, store/runs.ts reads it). */
  request?: unknown;
  state: CheckpointState;
  progress: CheckpointProgress;
  metrics: Record<string, number>[];
  /** Metrics of the steps since the last log record, which the next one averages (absent in older checkpoints). */
  pending?: Record<string, number>[];
}

/** A run that can be resumed: its newest checkpoint, without the optimizer state. */
export interface StoredRun {
  runId: string;
  /** Step of the newest checkpoint. */
  step: number;
  /** When the newest checkpoint was written. */
  createdAt: number;
  config: Record<string, unknown>;
  request?: unknown;
  /** How many checkpoints are kept for the run. */
  checkpoints: number;
}

type CheckpointMeta = Omit<CheckpointRecord, 'state'>;
type CheckpointKey = [string, number];

interface WebtuneDB extends DBSchema {
  adapters: { key: string; value: AdapterSummary; indexes: { parentId: string } };
  adapterTensors: { key: string; value: AdapterTensor[] };
  checkpoints: { key: CheckpointKey; value: CheckpointMeta };
  checkpointState: { key: CheckpointKey; value: CheckpointState };
  reflogps: { key: string; value: { values: Float32Array | Float64Array; createdAt: number } };
}

type Stores = StoreNames<WebtuneDB>;

export type StorageErrorKind =
  | 'quota' // the browser refused a write: storage is full
  | 'unavailable' // no IndexedDB here (private mode, disabled storage, a non-browser runtime)
  | 'blocked' // an upgrade waits for another tab to close its connection
  | 'version' // the stored database is newer than this code
  | 'closed' // the connection was closed under us (upgrade in another tab, storage cleared)
  | 'in-use' // delete of an adapter another adapter was trained on top of
  | 'not-found'
  | 'invalid' // a record that cannot be stored as given
  | 'failed'; // anything else IndexedDB reported

/** A storage failure, with a message meant for the person using webtune. `cause` keeps the browser's error. */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const FREE_SPACE =
  'Free space by deleting old adapters or checkpoints in the Adapters screen, or free disk space on this device, then try again.';

function isQuotaError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED' || code === 22;
}

const errName = (err: unknown) => (typeof err === 'object' && err !== null ? String((err as { name?: unknown }).name) : '');
const errMessage = (err: unknown) => (err instanceof Error || err instanceof DOMException ? err.message : String(err));

/** The browser's error for a failed write of `what`, as a StorageError. */
function writeError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  if (isQuotaError(err)) {
    return new StorageError(
      'quota',
      `Storage is full: the browser refused to save ${what}. Nothing already saved was lost. ${FREE_SPACE}`,
      {
        cause: err,
      },
    );
  }
  if (errName(err) === 'DataCloneError') {
    return new StorageError('invalid', `Could not save ${what}: it holds a value the browser cannot store (${errMessage(err)})`, {
      cause: err,
    });
  }
  return new StorageError('failed', `Could not save ${what}: ${errName(err) || 'error'}: ${errMessage(err)}`, { cause: err });
}

function readError(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError('failed', `Could not read ${what}: ${errName(err) || 'error'}: ${errMessage(err)}`, { cause: err });
}

const UNAVAILABLE =
  'Browser storage (IndexedDB) is not available here, so adapters and checkpoints cannot be saved. ' +
  'Private or incognito windows and some privacy settings disable it: use a normal window, or allow site data for this page.';

let persistAsked = false;

/** Ask once per page for persistent storage, so the browser does not evict adapters under pressure. Never waits, never throws. */
function askPersistence(): void {
  if (persistAsked) return;
  persistAsked = true;
  try {
    const storage = (globalThis.navigator as Navigator | undefined)?.storage;
    // Workers have navigator.storage but no persist(); Firefox may prompt, so the answer is never awaited.
    if (typeof storage?.persist === 'function') storage.persist().catch(() => {});
  } catch {
    // best effort only
  }
}

/** Copy a typed array whose buffer is shared or larger than it, so structured clone stores just its elements. */
function compact(data: Float32Array): Float32Array {
  if (!(data instanceof Float32Array))
    throw new StorageError('invalid', `expected a Float32Array, got ${Object.prototype.toString.call(data)}`);
  return data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}

const runRange = (runId: string) => IDBKeyRange.bound([runId, Number.NEGATIVE_INFINITY], [runId, Number.POSITIVE_INFINITY]);

export interface OpenOptions {
  /** The schema version to open; defaults to DB_VERSION. Only tests of the upgrade paths set it. */
  version?: number;
}

export class Store {
  private closedReason: string | null = null;

  private constructor(
    private readonly db: IDBPDatabase<WebtuneDB>,
    readonly name: string,
  ) {}

  /**
   * Opens (creating or upgrading) the database `name`. Rejects with a StorageError when IndexedDB is unavailable,
   * when the stored database is newer than this code, or when an upgrade is blocked by another tab.
   */
  static async open(name = 'webtune', options: OpenOptions = {}): Promise<Store> {
    const version = options.version ?? DB_VERSION;
    if (typeof indexedDB === 'undefined' || indexedDB === null) throw new StorageError('unavailable', UNAVAILABLE);
    askPersistence();
    let store: Store | undefined;
    let onBlocked: (() => void) | undefined;
    let gaveUp = false;
    const blocked = new Promise<never>((_, reject) => {
      onBlocked = () => {
        gaveUp = true;
        reject(
          new StorageError(
            'blocked',
            'webtune needs to upgrade its storage, but another tab or window still has webtune open with the old version. ' +
              'Close the other webtune tabs, then reload this page.',
          ),
        );
      };
    });
    blocked.catch(() => {});
    let opening: Promise<IDBPDatabase<WebtuneDB>>;
    try {
      opening = openDB<WebtuneDB>(name, version, {
        upgrade(db) {
          // Stores are created when missing, so any older version upgrades to this layout.
          if (!db.objectStoreNames.contains('adapters')) {
            db.createObjectStore('adapters', { keyPath: 'id' }).createIndex('parentId', 'parentId');
          }
          if (!db.objectStoreNames.contains('adapterTensors')) db.createObjectStore('adapterTensors');
          if (!db.objectStoreNames.contains('checkpoints')) db.createObjectStore('checkpoints', { keyPath: ['runId', 'step'] });
          if (!db.objectStoreNames.contains('checkpointState')) db.createObjectStore('checkpointState');
          if (!db.objectStoreNames.contains('reflogps')) db.createObjectStore('reflogps');
        },
        blocked: () => onBlocked?.(),
        blocking: (_current, _next, event) => {
          // A newer webtune in another tab wants to upgrade (or delete): step aside rather than block it.
          if (store) store.shut('webtune’s storage was upgraded or reset by webtune in another tab. Reload this page to continue.');
          else (event.target as IDBDatabase).close(); // an open we already gave up on
        },
        terminated: () => {
          store?.shut('The browser closed webtune’s storage (site data may have been cleared). Reload this page to continue.');
        },
      });
    } catch (err) {
      // indexedDB.open itself throws where storage is denied (e.g. SecurityError in some sandboxed contexts).
      throw new StorageError('unavailable', `${UNAVAILABLE} (${errName(err)}: ${errMessage(err)})`, { cause: err });
    }
    // A blocked open stays pending; if it succeeds after we gave up, close it again.
    opening.then(
      (db) => gaveUp && db.close(),
      () => {},
    );
    let db: IDBPDatabase<WebtuneDB>;
    try {
      db = await Promise.race([opening, blocked]);
    } catch (err) {
      gaveUp = true;
      if (err instanceof StorageError) throw err;
      const n = errName(err);
      if (n === 'VersionError') {
        throw new StorageError(
          'version',
          `This browser's webtune storage ("${name}") was written by a newer version of webtune than this page. ` +
            'Reload the page (or clear the browser cache) to get the latest webtune.',
          { cause: err },
        );
      }
      if (isQuotaError(err)) throw writeError(err, 'the storage database');
      throw new StorageError('unavailable', `${UNAVAILABLE} (${n || 'error'}: ${errMessage(err)})`, { cause: err });
    }
    store = new Store(db, name);
    return store;
  }

  /** Deletes the whole database `name` (tests, "reset everything"). */
  static async deleteDatabase(name: string): Promise<void> {
    if (typeof indexedDB === 'undefined' || indexedDB === null) throw new StorageError('unavailable', UNAVAILABLE);
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.deleteDatabase(name);
      req.onsuccess = () => resolve();
      req.onerror = () =>
        reject(new StorageError('failed', `Could not delete storage "${name}": ${errMessage(req.error)}`, { cause: req.error }));
      req.onblocked = () =>
        reject(
          new StorageError(
            'blocked',
            `Could not delete storage "${name}": another tab or window still has it open. Close the other webtune tabs and try again.`,
          ),
        );
    });
  }

  close(): void {
    this.shut('This storage connection was closed.');
  }

  private shut(reason: string): void {
    if (this.closedReason === null) {
      this.closedReason = reason;
      this.db.close();
    }
  }

  // -- transactions ------------------------------------------------------------------------------------------------

  private transaction<S extends Stores[], M extends IDBTransactionMode>(stores: S, mode: M) {
    if (this.closedReason !== null) throw new StorageError('closed', this.closedReason);
    return this.db.transaction(stores, mode);
  }

  private async read<S extends Stores[], T>(
    stores: S,
    what: string,
    body: (tx: IDBPTransaction<WebtuneDB, S, 'readonly'>) => Promise<T>,
  ): Promise<T> {
    try {
      const tx = this.transaction(stores, 'readonly');
      const done = tx.done;
      done.catch(() => {});
      const result = await body(tx);
      await done;
      return result;
    } catch (err) {
      throw readError(err, what);
    }
  }

  /**
   * One readwrite transaction. On any failure it is aborted, so none of its writes land, and the error is reported
   * by the transaction's own reason where that is more telling (a quota failure at commit surfaces on the
   * transaction, while its requests report only AbortError).
   */
  private async write<S extends Stores[], T>(
    stores: S,
    what: string,
    body: (tx: IDBPTransaction<WebtuneDB, S, 'readwrite'>) => Promise<T>,
  ): Promise<T> {
    let tx: IDBPTransaction<WebtuneDB, S, 'readwrite'>;
    try {
      tx = this.transaction(stores, 'readwrite');
    } catch (err) {
      throw writeError(err, what);
    }
    const done = tx.done;
    done.catch(() => {});
    try {
      const result = await body(tx);
      await done;
      return result;
    } catch (err) {
      try {
        tx.abort();
      } catch {
        // already committed or aborted
      }
      const txErr = await done.then(
        () => undefined,
        (e: unknown) => e,
      );
      const reason = isQuotaError(err) || txErr === undefined || errName(txErr) === 'AbortError' ? err : txErr;
      throw writeError(isQuotaError(txErr) ? txErr : reason, what);
    }
  }

  // -- adapters ----------------------------------------------------------------------------------------------------

  /** Every adapter's metadata, newest (createdAt) first. Tensors are not loaded. */
  async listAdapters(): Promise<AdapterSummary[]> {
    const all = await this.read(['adapters'], 'the list of adapters', (tx) => tx.objectStore('adapters').getAll());
    return all.sort((a, b) => b.createdAt - a.createdAt || b.updatedAt - a.updatedAt || a.name.localeCompare(b.name));
  }

  async getAdapter(id: string): Promise<AdapterRecord | undefined> {
    return this.read(['adapters', 'adapterTensors'], `adapter ${id}`, async (tx) => {
      const [meta, tensors] = await Promise.all([tx.objectStore('adapters').get(id), tx.objectStore('adapterTensors').get(id)]);
      if (!meta) return undefined;
      if (!tensors)
        throw new StorageError('failed', `Adapter "${meta.name}" (${id}) has lost its tensors: delete it and train or import it again.`);
      const { tensorCount: _count, parameters: _params, ...rest } = meta;
      return { ...rest, tensors };
    });
  }

  /** Inserts or replaces an adapter (metadata and tensors together). */
  async putAdapter(rec: AdapterRecord): Promise<void> {
    const label = `adapter "${rec?.name}"`;
    const { tensors, ...meta } = validateAdapter(rec);
    const stored = tensors.map((t) => ({ name: t.name, shape: [...t.shape], data: compact(t.data) }));
    const summary: AdapterSummary = {
      ...meta,
      tensorCount: stored.length,
      parameters: stored.reduce((n, t) => n + t.data.length, 0),
    };
    await this.write(['adapters', 'adapterTensors'], label, async (tx) => {
      if (meta.parentId !== null) {
        const parent = await tx.objectStore('adapters').get(meta.parentId);
        if (!parent) {
          throw new StorageError('invalid', `Could not save ${label}: its parent adapter ${meta.parentId} is not in storage.`);
        }
        // Refuse a cycle (a parent that descends from this adapter), which would make deletes loop.
        const all = await tx.objectStore('adapters').getAll();
        const byId = new Map(all.map((a) => [a.id, a]));
        for (let p: string | null = meta.parentId, hops = 0; p !== null && hops <= all.length; hops++) {
          if (p === meta.id) throw new StorageError('invalid', `Could not save ${label}: it would become its own ancestor.`);
          p = byId.get(p)?.parentId ?? null;
        }
      }
      await requests(
        () => tx.objectStore('adapters').put(summary),
        () => tx.objectStore('adapterTensors').put(stored, meta.id),
      );
    });
  }

  async renameAdapter(id: string, name: string): Promise<void> {
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (trimmed === '') throw new StorageError('invalid', 'An adapter name cannot be empty.');
    await this.write(['adapters'], `the new name "${trimmed}"`, async (tx) => {
      const meta = await tx.objectStore('adapters').get(id);
      if (!meta) throw new StorageError('not-found', `No adapter with id ${id} is stored.`);
      await tx.objectStore('adapters').put({ ...meta, name: trimmed, updatedAt: Date.now() });
    });
  }

  /**
   * Deletes an adapter. An adapter that others were trained on top of (their parentId) is refused unless
   * `cascade` is set, which deletes those descendants too. Returns the ids deleted (none if `id` is unknown).
   */
  async deleteAdapter(id: string, options: { cascade?: boolean } = {}): Promise<string[]> {
    return this.write(['adapters', 'adapterTensors'], `the deletion of adapter ${id}`, async (tx) => {
      const adapters = tx.objectStore('adapters');
      const meta = await adapters.get(id);
      if (!meta) return [];
      const children = await adapters.index('parentId').getAll(id);
      if (children.length > 0 && !options.cascade) {
        const names = children.map((c) => `"${c.name}"`).join(', ');
        throw new StorageError(
          'in-use',
          `Adapter "${meta.name}" cannot be deleted: ${children.length === 1 ? 'adapter' : 'adapters'} ${names} ` +
            `${children.length === 1 ? 'was' : 'were'} trained on top of it and need it. ` +
            'Delete those first, or delete it together with everything trained on it.',
        );
      }
      const doomed = [id];
      for (let i = 0; i < doomed.length; i++) {
        const kids = i === 0 ? children : await adapters.index('parentId').getAll(doomed[i]);
        for (const k of kids) if (!doomed.includes(k.id)) doomed.push(k.id);
      }
      await requests(...doomed.flatMap((d) => [() => adapters.delete(d), () => tx.objectStore('adapterTensors').delete(d)]));
      return doomed;
    });
  }

  // -- checkpoints -------------------------------------------------------------------------------------------------

  /**
   * Saves a checkpoint and prunes the run's older ones, in one transaction: the run keeps its `keep` newest
   * checkpoints by step. Checkpoints of a later step than this one belong to a future the run abandoned (it was
   * resumed from an earlier checkpoint) and are removed, so this one is always the latest.
   */
  async putCheckpoint(rec: CheckpointRecord, options: { keep?: number } = {}): Promise<void> {
    const keep = options.keep ?? 2;
    if (!Number.isInteger(keep) || keep < 1) throw new StorageError('invalid', `keep must be a positive integer, got ${keep}`);
    const { state, ...meta } = validateCheckpoint(rec);
    const stored: CheckpointState = { params: compact(state.params), m: compact(state.m), v: compact(state.v) };
    await this.write(['checkpoints', 'checkpointState'], `the checkpoint of step ${meta.step}`, async (tx) => {
      const keys = (await tx.objectStore('checkpoints').getAllKeys(runRange(meta.runId))) as CheckpointKey[];
      const older = keys.map((k) => k[1]).filter((s) => s < meta.step);
      const drop = [...keys.map((k) => k[1]).filter((s) => s > meta.step), ...older.slice(0, Math.max(0, older.length - (keep - 1)))];
      // Deletes first: the transaction is atomic either way, and the database never holds more than needed.
      for (const s of drop) {
        const key: CheckpointKey = [meta.runId, s];
        await requests(
          () => tx.objectStore('checkpoints').delete(key),
          () => tx.objectStore('checkpointState').delete(key),
        );
      }
      await requests(
        () => tx.objectStore('checkpoints').put(meta),
        () => tx.objectStore('checkpointState').put(stored, [meta.runId, meta.step]),
      );
    });
  }

  /** The run's checkpoint of the highest step, with its optimizer state. */
  async latestCheckpoint(runId: string): Promise<CheckpointRecord | undefined> {
    return this.read(['checkpoints', 'checkpointState'], `the checkpoints of run ${runId}`, async (tx) => {
      const cursor = await tx.objectStore('checkpoints').openCursor(runRange(runId), 'prev');
      if (!cursor) return undefined;
      const meta = cursor.value;
      const state = await tx.objectStore('checkpointState').get([meta.runId, meta.step]);
      if (!state) throw new StorageError('failed', `The checkpoint of run ${runId} at step ${meta.step} has lost its optimizer state.`);
      return { ...meta, state };
    });
  }

  /** Runs that have checkpoints (for "resume"), most recently checkpointed first. */
  async listRuns(): Promise<StoredRun[]> {
    const metas = await this.read(['checkpoints'], 'the list of runs', (tx) => tx.objectStore('checkpoints').getAll());
    const runs = new Map<string, StoredRun>();
    // Key order: by run, then ascending step, so the last one seen per run is its newest.
    for (const m of metas) {
      const count = (runs.get(m.runId)?.checkpoints ?? 0) + 1;
      const { runId, step, createdAt, config, request } = m;
      runs.set(runId, { runId, step, createdAt, config, request, checkpoints: count });
    }
    return [...runs.values()].sort((a, b) => b.createdAt - a.createdAt || a.runId.localeCompare(b.runId));
  }

  /** Deletes every checkpoint of a run. */
  async deleteRun(runId: string): Promise<void> {
    await this.write(['checkpoints', 'checkpointState'], `the deletion of run ${runId}`, async (tx) => {
      await requests(
        () => tx.objectStore('checkpoints').delete(runRange(runId)),
        () => tx.objectStore('checkpointState').delete(runRange(runId)),
      );
    });
  }

  // -- reference log-probs -----------------------------------------------------------------------------------------

  /** DPO's float32 sums or KTO's float64 ones, as they were put. */
  async getRefLogps(key: string): Promise<Float32Array | Float64Array | undefined> {
    const entry = await this.read(['reflogps'], 'cached reference log-probs', (tx) => tx.objectStore('reflogps').get(key));
    return entry?.values;
  }

  async putRefLogps(key: string, values: Float32Array | Float64Array): Promise<void> {
    if (typeof key !== 'string' || key === '')
      throw new StorageError('invalid', 'A reference log-prob cache key must be a non-empty string.');
    const stored = { values: values instanceof Float64Array ? values.slice() : compact(values), createdAt: Date.now() };
    await this.write(['reflogps'], 'the reference log-probs', async (tx) => {
      await tx.objectStore('reflogps').put(stored, key);
    });
  }

  /** Drops every cached reference log-prob (they are recomputed when needed). */
  async clearRefLogps(): Promise<void> {
    await this.write(['reflogps'], 'the clearing of cached reference log-probs', async (tx) => {
      await tx.objectStore('reflogps').clear();
    });
  }
}

/**
 * Issues IndexedDB requests in order and awaits them all. When one throws as it is issued (a put can throw a
 * QuotaExceededError or DataCloneError synchronously), the ones already issued are left with a handler, so their
 * AbortError, once the transaction aborts, is not an unhandled rejection.
 */
async function requests(...issue: (() => Promise<unknown>)[]): Promise<void> {
  const issued: Promise<unknown>[] = [];
  for (const start of issue) {
    const p = start();
    p.catch(() => {});
    issued.push(p);
  }
  await Promise.all(issued);
}

function invalid(what: string, problem: string): StorageError {
  return new StorageError('invalid', `Could not save ${what}: ${problem}`);
}

function validateAdapter(rec: AdapterRecord): AdapterRecord {
  if (typeof rec !== 'object' || rec === null) throw invalid('an adapter', 'the record is not an object');
  const what = `adapter "${rec.name}"`;
  if (typeof rec.id !== 'string' || rec.id === '') throw invalid(what, 'its id must be a non-empty string');
  if (typeof rec.name !== 'string' || rec.name.trim() === '') throw invalid(`adapter ${rec.id}`, 'its name must be a non-empty string');
  if (!(METHODS as readonly unknown[]).includes(rec.method))
    throw invalid(what, `method must be one of ${METHODS.join(', ')}, got ${JSON.stringify(rec.method)}`);
  if (rec.parentId !== null && (typeof rec.parentId !== 'string' || rec.parentId === ''))
    throw invalid(what, 'parentId must be an adapter id or null');
  if (rec.parentId === rec.id) throw invalid(what, 'it cannot be its own parent');
  for (const k of ['createdAt', 'updatedAt'] as const) {
    if (!Number.isFinite(rec[k])) throw invalid(what, `${k} must be a timestamp (ms), got ${rec[k]}`);
  }
  if (!Array.isArray(rec.tensors)) throw invalid(what, 'tensors must be a list');
  const seen = new Set<string>();
  for (const t of rec.tensors) {
    if (seen.has(t.name)) throw invalid(what, `tensor "${t.name}" appears twice`);
    seen.add(t.name);
    const count = Array.isArray(t.shape) && t.shape.every((d) => Number.isInteger(d) && d >= 0) ? t.shape.reduce((n, d) => n * d, 1) : -1;
    if (!(t.data instanceof Float32Array)) throw invalid(what, `tensor "${t.name}" data must be a Float32Array`);
    if (count !== t.data.length) throw invalid(what, `tensor "${t.name}" has shape ${JSON.stringify(t.shape)} but ${t.data.length} values`);
  }
  return rec;
}

function validateCheckpoint(rec: CheckpointRecord): CheckpointRecord {
  if (typeof rec !== 'object' || rec === null) throw invalid('a checkpoint', 'the record is not an object');
  if (typeof rec.runId !== 'string' || rec.runId === '') throw invalid('a checkpoint', 'its runId must be a non-empty string');
  if (!Number.isInteger(rec.step) || rec.step < 0)
    throw invalid(`a checkpoint of run ${rec.runId}`, `step must be an integer >= 0, got ${rec.step}`);
  const what = `the checkpoint of run ${rec.runId} at step ${rec.step}`;
  for (const k of ['params', 'm', 'v'] as const) {
    if (!(rec.state?.[k] instanceof Float32Array)) throw invalid(what, `state.${k} must be a Float32Array`);
  }
  if (rec.state.m.length !== rec.state.params.length || rec.state.v.length !== rec.state.params.length) {
    throw invalid(
      what,
      `state.m (${rec.state.m.length}) and state.v (${rec.state.v.length}) must match params (${rec.state.params.length})`,
    );
  }
  return rec;
}
