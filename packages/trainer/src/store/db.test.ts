// The parts of db.ts that need no IndexedDB; the store itself is tested in a real browser (db.gpu.test.ts).
import { describe, expect, it } from 'vitest';
import { StorageError, Store } from './db.ts';

describe('Store.open without IndexedDB', () => {
  it('says storage is unavailable and why', async () => {
    expect(typeof indexedDB).toBe('undefined'); // Node has none: like a browser with storage disabled
    const err = await Store.open('webtune-test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).kind).toBe('unavailable');
    expect((err as Error).message).toMatch(/IndexedDB\) is not available.*Private or incognito windows/);
  });
});
