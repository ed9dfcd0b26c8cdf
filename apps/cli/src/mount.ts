// Serve local folders to the page, read-only, under /__local/<name>/ (the model folder, adapters).
import { createReadStream, statSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import type { RequestHandler } from '@webtune/harness';

/** The page server's handler for /__local/<name>/<path>: `mounts` maps each name to a local folder. */
export function localMounts(mounts: Record<string, string>): RequestHandler {
  return (req, res) => {
    const m = /^\/__local\/([^/]+)\/(.*)$/.exec((req.url ?? '').split('?')[0]);
    if (!m || !(m[1] in mounts)) return false;
    const root = normalize(mounts[m[1]]);
    const file = normalize(join(root, decodeURIComponent(m[2])));
    if (!file.startsWith(root + sep)) {
      res.statusCode = 403;
      res.end('outside the mounted folder');
      return true;
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.statusCode = 404;
      res.end(`${m[2]} not found in ${root}`);
      return true;
    }
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Accept-Ranges', 'bytes');
    // One range ("bytes=a-b", "bytes=a-"): the page reads a checkpoint a tensor at a time, never the whole file.
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      if (start > end || start >= size) {
        res.statusCode = 416;
        res.setHeader('Content-Range', `bytes */${size}`);
        res.end();
        return true;
      }
      res.statusCode = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      res.setHeader('Content-Length', String(end - start + 1));
      createReadStream(file, { start, end }).pipe(res);
      return true;
    }
    res.setHeader('Content-Length', String(size));
    createReadStream(file).pipe(res);
    return true;
  };
}
