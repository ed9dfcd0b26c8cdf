// The folder a command writes (--out): checked before Chromium starts, written whole or not at all. Files are collected
// while the command runs and land together at the end: written into a fresh sibling folder, which then takes the
// folder's place, so a failure or a kill on the way leaves the earlier folder (or none) and never a mix of old and new.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './args.ts';

/** Why `dir` cannot take a new folder: the system's reason in words (EACCES, EROFS, ENOENT under /proc, ...). */
function unwritable(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'not permitted',
    EROFS: 'a read-only file system',
    ENOENT: 'no new folder can be made there',
    ENOTDIR: 'a file is in the way',
    ENOSPC: 'no space left on the device',
  };
  return (code && words[code]) ?? (err instanceof Error ? err.message : String(err));
}

export class OutputFolder {
  private readonly files = new Map<string, string | Uint8Array>();

  private constructor(
    /** Absolute path. */
    readonly path: string,
    /** As the user gave it, for messages. */
    readonly arg: string,
    /** What the folder holds already (an earlier run), top-level names sorted. */
    readonly existing: string[],
  ) {}

  /**
   * Checks `--<flag> <arg>` can be written: it is a folder or nothing, and the nearest existing folder above it takes a
   * new folder (made and removed at once: the one sure test, whatever the permissions, mounts and file systems say).
   */
  static check(arg: string, flag = 'out'): OutputFolder {
    const path = resolve(arg);
    if (existsSync(path) && !statSync(path).isDirectory())
      throw new UsageError(`--${flag} ${arg} is a file; give the folder to write the adapter to`);
    let parent = dirname(path);
    while (!existsSync(parent)) parent = dirname(parent);
    if (!statSync(parent).isDirectory())
      throw new UsageError(`--${flag} ${arg} cannot be written: ${parent} is a file; give a folder you can write to`);
    try {
      rmSync(mkdtempSync(join(parent, '.webtune-probe-')), { recursive: true });
    } catch (err) {
      throw new UsageError(`--${flag} ${arg} cannot be written (${parent}: ${unwritable(err)}); give a folder you can write to`);
    }
    const existing = existsSync(path) ? readdirSync(path).sort() : [];
    return new OutputFolder(path, arg, existing);
  }

  /** Queues a file (`name` may hold a subfolder: "stacked/adapter_config.json"); returns its final path. */
  add(name: string, data: string | Uint8Array): string {
    this.files.set(name, data);
    return join(this.path, name);
  }

  /** Writes the queued files as the whole folder, replacing what it held. */
  commit(): void {
    const parent = dirname(this.path);
    mkdirSync(parent, { recursive: true });
    const staging = mkdtempSync(join(parent, `.${basename(this.path)}.partial-`));
    let aside: string | undefined;
    try {
      for (const [name, data] of this.files) {
        const file = join(staging, name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, data);
      }
      if (existsSync(this.path)) {
        // Moved aside first, removed last: at every moment one whole folder is in place or on its way in.
        aside = mkdtempSync(join(parent, `.${basename(this.path)}.old-`));
        renameSync(this.path, join(aside, 'previous'));
        renameSync(staging, this.path);
        rmSync(aside, { recursive: true, force: true });
      } else renameSync(staging, this.path);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      if (aside && !existsSync(this.path) && existsSync(join(aside, 'previous'))) renameSync(join(aside, 'previous'), this.path);
      if (aside) rmSync(aside, { recursive: true, force: true });
      throw new Error(`could not write ${this.arg}: ${unwritable(err)}`);
    }
  }
}
