// Synthetic pairs (the user's account: "generate a 'good' output and a deliberately 'bad' one as the rejected side"):
// per prompt, the first candidate of the chosen model's set (the SFT model's answer) against the first of the rejected
// model's set for the same prompt (the base model's), or against a degraded copy of itself. Each is labelled
// "synthetic" in the provenance sidecar, with the rule and where each side came from, so it can be told from pairs a
// person or a judge made. A prompt whose two answers are the same text makes no pair, and is counted.
import type { CandidateSet } from './candidates.ts';
import { PairsError } from './errors.ts';
import type { PreferencePair } from './pairs.ts';

export interface SyntheticPairs {
  pairs: PreferencePair[];
  /** Prompts whose chosen and rejected answers are the same text. */
  same: string[];
  /** Prompts of the chosen set the rejected set lacks. */
  missing: string[];
}

/** Where one side of a synthetic pair came from. */
const origin = (set: CandidateSet) => ({ model: set.model, adapter: set.adapter, sampling: set.sampling, seed: set.seeds[0] });

/**
 * A deliberately worse answer: the first half of the answer's words, cut mid-thought (at least one word dropped).
 * It keeps the answer's start, so the pair teaches to finish an answer, not to prefer one opening over another.
 */
export function degradedAnswer(text: string): string {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2) return '';
  return words.slice(0, Math.floor(words.length / 2)).join(' ');
}

function pairOf(out: SyntheticPairs, set: CandidateSet, rejected: string, provenance: PreferencePair['provenance']): void {
  const chosen = set.candidates[0];
  if (chosen.trim() === rejected.trim()) out.same.push(set.id);
  else out.pairs.push({ prompt: set.prompt, chosen, rejected, provenance });
}

/** The chosen model's answer over the rejected model's (matched by prompt id; the prompts must be the same). */
export function syntheticPairs(chosen: CandidateSet[], rejected: CandidateSet[]): SyntheticPairs {
  const byId = new Map(rejected.map((s) => [s.id, s]));
  const out: SyntheticPairs = { pairs: [], same: [], missing: [] };
  for (const set of chosen) {
    const other = byId.get(set.id);
    if (!other) {
      out.missing.push(set.id);
      continue;
    }
    if (JSON.stringify(other.prompt) !== JSON.stringify(set.prompt))
      throw new PairsError(`prompt "${set.id}" differs between the two candidates files: make both from the same prompts file`);
    const provenance = {
      id: set.id,
      source: 'synthetic' as const,
      rule: 'chosen model over rejected model',
      chosen_from: origin(set),
      rejected_from: origin(other),
    };
    pairOf(out, set, other.candidates[0], provenance);
  }
  return out;
}

/** The chosen model's answer over a degraded copy of it (degradedAnswer). */
export function degradedPairs(chosen: CandidateSet[]): SyntheticPairs {
  const out: SyntheticPairs = { pairs: [], same: [], missing: [] };
  for (const set of chosen)
    pairOf(out, set, degradedAnswer(set.candidates[0]), {
      id: set.id,
      source: 'synthetic',
      rule: 'answer over its first half (degraded)',
      chosen_from: origin(set),
    });
  return out;
}
