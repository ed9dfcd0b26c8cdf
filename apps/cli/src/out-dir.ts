// The folder (or the one file) a command writes (--out): checked before Chromium starts, written whole or not at all. Files are collected
// while the command runs and land together at the end: written into a fresh sibling folder, which then takes the
// folder's place, so a failure or a kill on the way leaves the earlier folder (or none) and never a mix of old and new.

import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, parse, resolve, sep } from 'node:path';
import { UsageError } from './args.ts';

/** Why `dir` cannot take a new folder: the system's reason in words (EACCES, EROFS, ENOENT under /proc, ...). */
/** After a failed write: what is on disk (the folder as it was), and what to do. */
const NOTHING_WRITTEN = 'nothing was written and the folder is as it was: free some space or give another folder';

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

/**
 * Checks the nearest existing folder above `path` takes a new entry (one made and removed at once: the one sure test,
 * whatever the permissions, mounts and file systems say).
 */
function probeParent(path: string, arg: string, flag: string): void {
  let parent = dirname(path);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory())
    throw new UsageError(`--${flag} ${arg} cannot be written: ${parent} is a file; give a folder you can write to`);
  try {
    rmSync(mkdtempSync(join(parent, '.webtune-probe-')), { recursive: true });
  } catch (err) {
    throw new UsageError(`--${flag} ${arg} cannot be written (${parent}: ${unwritable(err)}); give a folder you can write to`);
  }
}

/** A file or folder the command reads (`--run`, `--data`, `--adapter`): an <out> that holds it would delete it. */
export interface ReadPath {
  flag: string;
  /** As the user gave it (undefined: the flag was not given; a path not on disk is skipped). */
  path: string | undefined;
}

/** Whether `inner` is `outer` or lies under it. */
const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);

/**
 * An <out> folder is replaced whole (OutputFolder.commit), so one that holds more than the command's own output is
 * refused whatever --overwrite says: the folder you are in or one above it (`--out .` would take the checkout with
 * it), your home folder, the root, or a folder holding a file or folder the command reads (`ab --run R --out R`).
 */
function refuseReplacing(path: string, arg: string, flag: string, reads: ReadPath[]): void {
  if (path === homedir() || path === parse(path).root)
    throw new UsageError(
      `--${flag} ${arg} is ${path === homedir() ? 'your home folder' : 'the root folder'}: writing replaces the folder whole; give a new folder for the output`,
    );
  const cwd = process.cwd();
  if (within(cwd, path))
    throw new UsageError(
      `--${flag} ${arg} ${path === cwd ? 'is the folder you are in' : `holds the folder you are in (${cwd})`}: writing replaces the folder whole; give a new folder for the output`,
    );
  for (const r of reads) {
    // A path that is not on disk (a Hub id given to --model, "base") holds nothing to lose.
    if (r.path === undefined || !existsSync(r.path) || !within(resolve(r.path), path)) continue;
    throw new UsageError(
      `--${flag} ${arg} ${resolve(r.path) === path ? 'is' : 'holds'} --${r.flag} ${r.path}, which this command reads: writing replaces the folder whole; give another folder for the output`,
    );
  }
}

export class OutputFolder {
  private readonly files = new Map<string, string | Uint8Array>();

  private constructor(
    /** Absolute path. */
    readonly path: string,
    /** As the user gave it, for messages. */
    readonly arg: string,
    /** The flag it was given with, for messages. */
    readonly flag: string,
    /** What the folder holds already (an earlier run), top-level names sorted. */
    readonly existing: string[],
  ) {}

  /**
   * Checks `--<flag> <arg>` can be written: it is a folder or nothing, the folder above it takes a new one, and
   * replacing it takes nothing but an earlier output with it (refuseReplacing; `reads` are the command's inputs).
   */
  static check(arg: string, flag = 'out', reads: ReadPath[] = []): OutputFolder {
    const path = resolve(arg);
    if (existsSync(path) && !statSync(path).isDirectory())
      throw new UsageError(`--${flag} ${arg} is a file; give a folder to write into (a new name, or an existing folder)`);
    refuseReplacing(path, arg, flag, reads);
    probeParent(path, arg, flag);
    const existing = existsSync(path) ? readdirSync(path).sort() : [];
    return new OutputFolder(path, arg, flag, existing);
  }

  /** Refuses a folder that already holds files unless the user said --overwrite: they would be replaced, not kept beside. */
  requireEmptyOr(overwrite: boolean): this {
    if (this.existing.length > 0 && !overwrite) {
      const some = `${this.existing.slice(0, 3).join(', ')}${this.existing.length > 3 ? ', ...' : ''}`;
      throw new UsageError(`--${this.flag} ${this.arg} already holds ${some}: give --overwrite to replace it, or another folder`);
    }
    return this;
  }

  /** Queues a file (`name` may hold a subfolder: "stacked/adapter_config.json"); returns its final path. */
  add(name: string, data: string | Uint8Array): string {
    this.files.set(name, data);
    return join(this.path, name);
  }

  /** Writes the queued files as the whole folder, replacing what it held. */
  commit(): void {
    const staging = this.stage();
    this.swapIn(staging);
  }

  /**
   * The same, for files too big to queue: `fill` streams them into the staging folder (appendFile: chunks in order,
   * each file opened on its first chunk) before the queued files are added and the folder takes <out>'s place. If
   * `fill` throws (a failed write, a cancelled export), the staging folder is removed and <out> is left as it was.
   */
  async commitStreamed(fill: (append: (name: string, chunk: Uint8Array) => void) => Promise<void>): Promise<void> {
    const staging = this.stage();
    const open = new Map<string, number>();
    try {
      await fill((name, chunk) => {
        let fd = open.get(name);
        if (fd === undefined) {
          const file = join(staging, name);
          mkdirSync(dirname(file), { recursive: true });
          fd = openSync(file, 'wx');
          open.set(name, fd);
        }
        writeSync(fd, chunk);
      });
      for (const fd of open.values()) closeSync(fd);
      open.clear();
    } catch (err) {
      for (const fd of open.values()) closeSync(fd);
      rmSync(staging, { recursive: true, force: true });
      throw err;
    }
    this.swapIn(staging);
  }

  /** A fresh sibling folder holding the queued files. */
  private stage(): string {
    const parent = dirname(this.path);
    mkdirSync(parent, { recursive: true });
    // Not mkdtemp: its folder is 0700, and once in place the output would be the user's alone (the umask decides).
    const staging = join(parent, `.${basename(this.path)}.partial-${process.pid}-${randomUUID().slice(0, 8)}`);
    mkdirSync(staging);
    try {
      for (const [name, data] of this.files) {
        const file = join(staging, name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, data);
      }
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw new Error(`could not write ${this.arg}: ${unwritable(err)}; ${NOTHING_WRITTEN}`);
    }
    return staging;
  }

  /** `staging` takes the folder's place. */
  private swapIn(staging: string): void {
    const parent = dirname(this.path);
    let aside: string | undefined;
    try {
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
      throw new Error(`could not write ${this.arg}: ${unwritable(err)}; ${NOTHING_WRITTEN}`);
    }
  }
}

/**
 * One file a command writes (`export --out bundle.zip`), whole or not at all, as OutputFolder writes a folder: streamed
 * into a hidden sibling, which is renamed over <out> only once every byte is written; a failure removes it.
 */
export class OutputFile {
  private constructor(
    /** Absolute path. */
    readonly path: string,
    /** As the user gave it, for messages. */
    readonly arg: string,
    /** Whether a file is there already (an earlier run). */
    readonly exists: boolean,
  ) {}

  static check(arg: string, flag = 'out'): OutputFile {
    const path = resolve(arg);
    const exists = existsSync(path);
    if (exists && statSync(path).isDirectory())
      throw new UsageError(`--${flag} ${arg} is a folder; give the file to write, or another name`);
    probeParent(path, arg, flag);
    return new OutputFile(path, arg, exists);
  }

  /** `fill` appends the file's bytes in order; the file takes <out>'s place when it resolves, and nothing does if it throws. */
  async commitStreamed(fill: (append: (chunk: Uint8Array) => void) => Promise<void>): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    const partial = join(dirname(this.path), `.${basename(this.path)}.partial-${process.pid}-${Date.now()}`);
    const fd = openSync(partial, 'wx');
    let open = true;
    try {
      await fill((chunk) => writeSync(fd, chunk));
      closeSync(fd);
      open = false;
      renameSync(partial, this.path);
    } catch (err) {
      if (open) closeSync(fd);
      rmSync(partial, { force: true });
      throw err;
    }
  }
}
