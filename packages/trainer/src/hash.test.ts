// hashKey against the framing it documents, computed independently with node:crypto.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashKey } from './hash.ts';

/** The framing hashKey documents, computed independently with node:crypto. */
function reference(parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p);
    const head = Buffer.alloc(9);
    head[0] = typeof p === 'string' ? 0 : 1;
    head.writeBigUInt64LE(BigInt(bytes.length), 1);
    h.update(head).update(bytes);
  }
  return h.digest('hex');
}

describe('hashKey', () => {
  it('is SHA-256 hex of the length-framed parts', async () => {
    const parts = ['HuggingFaceTB/SmolLM2-135M', new Uint8Array([1, 2, 3, 255]), 'max_length=512', 'ünï ✓'];
    const key = await hashKey(parts);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).toBe(reference(parts));
    expect(await hashKey([])).toBe(createHash('sha256').digest('hex'));
  });

  it('separates parts and kinds', async () => {
    expect(await hashKey(['ab', 'c'])).not.toBe(await hashKey(['a', 'bc']));
    expect(await hashKey(['abc'])).not.toBe(await hashKey([new TextEncoder().encode('abc')]));
    expect(await hashKey(['', ''])).not.toBe(await hashKey(['']));
  });

  it('hashes a view, not its whole buffer', async () => {
    const buf = new Uint8Array([9, 9, 1, 2, 3, 9]);
    expect(await hashKey([buf.subarray(2, 5)])).toBe(await hashKey([new Uint8Array([1, 2, 3])]));
  });

  it('refuses other kinds of parts', async () => {
    await expect(hashKey([42 as unknown as string])).rejects.toThrow(/parts must be strings or Uint8Arrays/);
  });
});
