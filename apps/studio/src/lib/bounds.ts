// A numeric field's bounds, checked and said the same way on every screen: the Train screen's hyper-parameters
// (ParamField) and the Data screen's max length, which is the same setting.
import { type HyperParam, parseDecimal } from '@webtune/trainer';

export type NumberKind = Extract<HyperParam['kind'], { type: 'int' | 'number' }>;

/** What the field takes, in words: "a whole number of tokens from 2 to 65536", "a number from 0 to 1". */
export function rangeWords(k: NumberKind, unit = ''): string {
  const what = `${k.type === 'int' ? 'a whole number' : 'a number'}${unit ? ` of ${unit}` : ''}`;
  if (k.max === Number.MAX_SAFE_INTEGER || k.max === Number.POSITIVE_INFINITY) return `${what} of at least ${k.min}`;
  return `${what} from ${k.min} to ${k.max}`;
}

/** The typed text as a number the field takes, or null (empty, not a number, a fraction for a whole number, out of range). */
export function parseInRange(raw: string, k: NumberKind): number | null {
  const n = parseDecimal(raw);
  if (n === null || (k.type === 'int' && !Number.isInteger(n)) || n < k.min || n > k.max) return null;
  return n;
}
