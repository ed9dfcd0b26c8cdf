// Win rates of a blind A/B comparison with their 95% Wilson intervals. A tie is either split (half a win to each
// side, every prompt counted) or excluded (only decided prompts counted); the summary always says which.
import { type Interval, wilsonInterval } from './wilson.ts';

export type TieRule = 'split' | 'excluded';

export interface WinRate {
  /** Wins (plus half the ties when they are split) over the prompts counted. */
  rate: number;
  interval: Interval;
}

export interface WinRateSummary {
  ties: TieRule;
  /** Prompts judged (wins + losses + ties) and those the rates count (all of them, or the decided ones). */
  judged: number;
  counted: number;
  /** From the first model's side: wins, losses, ties. */
  wins: number;
  losses: number;
  tied: number;
  /** The first model's win rate and the second's (1 - the first's, its interval mirrored). */
  first: WinRate;
  second: WinRate;
}

export function winRates(wins: number, losses: number, tied: number, ties: TieRule = 'split'): WinRateSummary {
  const judged = wins + losses + tied;
  const counted = ties === 'split' ? judged : wins + losses;
  const successes = ties === 'split' ? wins + tied / 2 : wins;
  const interval = wilsonInterval(successes, counted);
  const rate = counted === 0 ? 0.5 : successes / counted;
  return {
    ties,
    judged,
    counted,
    wins,
    losses,
    tied,
    first: { rate, interval },
    second: { rate: 1 - rate, interval: { low: 1 - interval.high, high: 1 - interval.low } },
  };
}
