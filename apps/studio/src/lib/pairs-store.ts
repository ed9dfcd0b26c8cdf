// The Pairs screen's work in IndexedDB ("webtune-pairs"): the prompts, the settings, every candidate generated and
// every judgement, written after each change so a reload (or a crash) loses nothing; and the same way the blind A/B
// of the Compare screen, the Train screen's smoke test (its verdict makes DPO ask before it starts) and the
// classroom's judging stage. One record each: the current work.
import type {
  AbModels,
  AbRow,
  CandidateSet,
  JudgingSession,
  PreferencePair,
  Prompt,
  SmokeAnswer,
  SmokeCheck,
  SmokeCheckVerdict,
  ThumbsSession,
} from '@webtune/trainer';

/** Synthetic pairs' rejected side: the base model's answer, or a degraded copy of the chosen answer. */
export type SyntheticRule = 'base' | 'degrade';

/** Synthetic pairs made from the candidates, and how many prompts gave the same text on both sides (no pair). */
export interface SyntheticWork {
  rule: SyntheticRule;
  pairs: PreferencePair[];
  same: number;
}

export interface PairsWork {
  prompts: string;
  source: string;
  settings: { k: number; temperature: number; seed: number; maxNewTokens: number; adapterId: string; chat: boolean };
  /** The prompts being generated for (read from `prompts` when Generate was pressed), in order. */
  queue: Prompt[];
  session: JudgingSession;
  /** Absent in work kept before synthetic pairs existed. */
  synthetic?: SyntheticWork | null;
}

/** A blind A/B in progress: the two models (ids and names), the prompts' rows and every verdict so far. */
export interface AbWork {
  ids: { first: string; second: string };
  models: AbModels;
  seed: number;
  /** The answers' length limit (the Compare screen's; absent in work kept before it was: 48). */
  maxNewTokens?: number;
  rows: AbRow[];
  /** Prompts still to generate for, after the rows. */
  queue: Prompt[];
}

/** The Train screen's smoke test: its settings, the answers scored, and the verdict on the adapter it tested. */
export interface SmokeWork {
  kind: SmokeCheck['kind'];
  pattern: string;
  prompts: string;
  source: string;
  maxNewTokens: number;
  answers: SmokeAnswer[];
  result: { adapterId: string; check: SmokeCheck; verdict: SmokeCheckVerdict } | null;
}

/** The classroom's judging stage: the SFT model's answers, the pairs and thumbs judged so far, and its settings. */
export interface ClassroomJudgingWork {
  settings: { prompts: number; joinPairs: boolean; topUp: boolean };
  sets: CandidateSet[];
  sftId: string | null;
  pairs: JudgingSession;
  thumbs: ThumbsSession;
}

const DB = 'webtune-pairs';
const STORE = 'work';
const KEY = 'current';
const AB_KEY = 'ab';
const SMOKE_KEY = 'smoke';
const CLASSROOM_KEY = 'classroom-judging';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') return reject(new Error('IndexedDB is not available'));
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/**
 * Keys whose kept work could not be read in this page: the work may still be there, so nothing here is written over
 * it (a save says why) until a reload reads it.
 */
const unreadable = new Set<string>();

function load<T>(key: string): Promise<T | undefined> {
  return run('readonly', (s) => s.get(key) as IDBRequest<T | undefined>).catch((e: unknown) => {
    unreadable.add(key);
    throw new Error(
      `the work kept from an earlier visit could not be read (${(e as Error)?.message ?? e}); it is left as it was: reload the page to try again`,
    );
  });
}

function write(key: string, body: (s: IDBObjectStore) => IDBRequest): Promise<void> {
  if (unreadable.has(key))
    return Promise.reject(
      new Error('not kept: the earlier work in this browser could not be read, and is not written over; reload the page to read it again'),
    );
  return run('readwrite', body).then(() => undefined);
}

export const saveWork = (work: PairsWork) => write(KEY, (s) => s.put(work, KEY));
export const loadWork = () => load<PairsWork>(KEY);
export const clearWork = () =>
  run('readwrite', (s) => s.delete(KEY)).then(() => {
    unreadable.delete(KEY); // the user chose to start over
  });
export const saveAb = (work: AbWork | null) => write(AB_KEY, (s) => (work ? s.put(work, AB_KEY) : s.delete(AB_KEY)));
export const loadAb = () => load<AbWork>(AB_KEY);
export const saveSmoke = (work: SmokeWork) => write(SMOKE_KEY, (s) => s.put(work, SMOKE_KEY));
export const loadSmoke = () => load<SmokeWork>(SMOKE_KEY);
export const saveClassroomJudging = (work: ClassroomJudgingWork) => write(CLASSROOM_KEY, (s) => s.put(work, CLASSROOM_KEY));
export const loadClassroomJudging = () => load<ClassroomJudgingWork>(CLASSROOM_KEY);
