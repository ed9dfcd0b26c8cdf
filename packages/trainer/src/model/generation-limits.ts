// The bounds of a generation's settings (GenerateRequest): the CLI's flags, the studio's fields and the worker all
// check against these, so a request past them is refused by name wherever it comes from.
import type { GenerateRequest } from '../api.ts';
import { ConfigValueError } from '../train/config.ts';

type Limited = 'maxNewTokens' | 'temperature' | 'topP';

export const GENERATION_LIMITS: Record<Limited, { name: string; min: number; max: number; default: number; whole?: boolean }> = {
  // The KV cache is sized for the prompt plus this many tokens.
  maxNewTokens: { name: 'max new tokens', min: 1, max: 4096, default: 64, whole: true },
  temperature: { name: 'temperature', min: 0, max: 10, default: 0 },
  topP: { name: 'top-p', min: 0.01, max: 1, default: 1 },
};

/** Refuses a setting outside GENERATION_LIMITS, naming it, its bounds and the value given. */
export function checkGeneration(request: Pick<GenerateRequest, Limited>): void {
  for (const key of Object.keys(GENERATION_LIMITS) as Limited[]) {
    const v = request[key];
    if (v === undefined) continue;
    const { name, min, max, whole } = GENERATION_LIMITS[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(v)))
      throw new ConfigValueError(
        `${name} must be ${whole ? 'a whole number ' : ''}from ${min} to ${max}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`,
      );
  }
}
