// The studio's own small store (IndexedDB "webtune-studio"): the text of datasets the user loaded, so an
// interrupted run can be resumed after a reload without picking the file again, and the last dataset of each
// method comes back with the page. Nothing here leaves the machine.

export interface SavedDataset {
  /** The engine's dataset id (a hash of method, text and max length). */
  id: string;
  method: 'sft' | 'dpo' | 'kto';
  file: string;
  text: string;
  maxLength: number;
  savedAt: number;
  /** 'eval': a run's eval file (the Train screen's), kept for resuming, never offered as the training data. */
  role?: 'eval';
}

const DB = 'webtune-studio';
const STORE = 'datasets';
const KEEP = 12;

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') return reject(new Error('IndexedDB is not available'));
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function withStore<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => Promise<T>): Promise<T> {
  const db = await open();
  try {
    const tx = db.transaction(STORE, mode);
    const result = await body(tx.objectStore(STORE));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return result;
  } finally {
    db.close();
  }
}

export async function saveDataset(d: SavedDataset): Promise<void> {
  await withStore('readwrite', async (s) => {
    await done(s.put(d));
    const all = (await done(s.getAll())) as SavedDataset[];
    all.sort((a, b) => b.savedAt - a.savedAt);
    for (const old of all.slice(KEEP)) await done(s.delete(old.id));
  });
}

export async function getDataset(id: string): Promise<SavedDataset | undefined> {
  return withStore('readonly', (s) => done(s.get(id)) as Promise<SavedDataset | undefined>);
}

/** The most recently loaded dataset of a method. */
export async function lastDataset(method: 'sft' | 'dpo' | 'kto'): Promise<SavedDataset | undefined> {
  const all = await withStore('readonly', (s) => done(s.getAll()) as Promise<SavedDataset[]>);
  return all.filter((d) => d.method === method && d.role !== 'eval').sort((a, b) => b.savedAt - a.savedAt)[0];
}
