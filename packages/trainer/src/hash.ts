// Content keys: what the DPO reference cache, dataset ids and fingerprints are named by.

/**
 * SHA-256 (hex) of a list of parts, each framed by its kind and length so that ['ab', 'c'] and ['a', 'bc'] differ.
 * Strings are hashed as UTF-8. Uses crypto.subtle: pages, workers and Node 20.
 */
export async function hashKey(parts: (string | Uint8Array)[]): Promise<string> {
  const encoder = new TextEncoder();
  const chunks = parts.map((p) => {
    if (typeof p === 'string') return { tag: 0, bytes: encoder.encode(p) };
    if (p instanceof Uint8Array) return { tag: 1, bytes: p };
    throw new TypeError(`hashKey: parts must be strings or Uint8Arrays, got ${Object.prototype.toString.call(p)}`);
  });
  const total = chunks.reduce((n, c) => n + 9 + c.bytes.length, 0);
  const buf = new Uint8Array(total);
  const view = new DataView(buf.buffer);
  let pos = 0;
  for (const { tag, bytes } of chunks) {
    buf[pos] = tag;
    view.setBigUint64(pos + 1, BigInt(bytes.length), true);
    buf.set(bytes, pos + 9);
    pos += 9 + bytes.length;
  }
  return sha256Hex(buf);
}

/** SHA-256 (hex) of bytes as they are, as `sha256sum` prints it for a file. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  // Pages, workers and Node 20 have it; a page served over plain http from another host does not.
  if (!subtle) throw new Error('webtune needs crypto.subtle, which this page lacks: serve it over https or from localhost.');
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
