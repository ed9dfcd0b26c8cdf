// Typed reads of config.json fields, each failing with a ConfigError that names the file, the field and its value.
// Shared by config.ts and by every architecture's module (arch/*.ts).

/** A config.json webtune cannot train: names the file, the field and its value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const show = (v: unknown) => JSON.stringify(v) ?? String(v);

export class ConfigFields {
  constructor(
    readonly c: Record<string, unknown>,
    readonly file: string,
    /** Who needs a field that is missing, e.g. "every Qwen3ForCausalLM config.json". */
    readonly owner = 'every supported config.json',
  ) {}

  fail(problem: string): ConfigError {
    return new ConfigError(this.file, problem);
  }

  bad(field: string, expected: string): ConfigError {
    return this.fail(`"${field}" is ${show(this.c[field])}; expected ${expected}`);
  }

  /** Present and not null. */
  has(field: string): boolean {
    return this.c[field] !== undefined && this.c[field] !== null;
  }

  int(field: string, fallback?: number): number {
    if (!this.has(field)) {
      if (fallback !== undefined) return fallback;
      throw this.fail(`"${field}" is missing; ${this.owner} has it: is this the model's config.json?`);
    }
    const v = this.c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw this.bad(field, 'a positive integer');
    return v;
  }

  positive(field: string, fallback: number): number {
    if (!this.has(field)) return fallback;
    const v = this.c[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw this.bad(field, 'a positive number');
    return v;
  }

  bool(field: string, fallback: boolean): boolean {
    if (!this.has(field)) return fallback;
    if (typeof this.c[field] !== 'boolean') throw this.bad(field, 'true or false');
    return this.c[field] as boolean;
  }

  /**
   * A positive integer or null, with the class default applying only to an absent key: an explicit null stays null,
   * as in transformers (Mistral's `sliding_window` defaults to 4096, and null turns the window off).
   */
  intOrNull(field: string, absent: number | null): number | null {
    if (!(field in this.c)) return absent;
    if (this.c[field] === null) return null;
    return this.int(field);
  }

  /** A list of `numLayers` entries (at least, with `atLeast`), each one of `allowed`. */
  perLayer<T>(field: string, numLayers: number, allowed: readonly T[], atLeast = false): T[] | null {
    if (!this.has(field)) return null;
    const v = this.c[field];
    const expected = `a list of ${atLeast ? 'at least ' : ''}${numLayers} (num_hidden_layers) entries, each ${allowed.map(show).join(' or ')}`;
    if (!Array.isArray(v) || (atLeast ? v.length < numLayers : v.length !== numLayers)) throw this.bad(field, expected);
    const bad = v.findIndex((x) => !allowed.includes(x as T));
    if (bad >= 0) throw this.fail(`"${field}"[${bad}] is ${show(v[bad])}; expected ${expected}`);
    return v.slice(0, numLayers) as T[];
  }
}
