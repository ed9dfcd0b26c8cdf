// KTO's desirable/undesirable balance and TRL's warning when the weights do not offset unequal counts: pure, so the
// studio's Data screen computes it as the weights change, and the service says it when a run starts.
export interface KtoBalance {
  desirable: number;
  undesirable: number;
  /** TRL's advice when the weights do not offset unequal counts (Eq. 8 of the KTO paper), else undefined. */
  warning?: string;
}

/** The desirable/undesirable balance of a KTO dataset and, outside the KTO paper's range, TRL's warning. */
export function ktoBalance(
  { desirable, undesirable }: { desirable: number; undesirable: number },
  desirableWeight: number,
  undesirableWeight: number,
): KtoBalance {
  // One label alone: no weight can make up for rows that are not there (TRL's ranges, computed with a count of 1 for
  // the missing label, would suggest one anyway).
  if (desirable + undesirable > 0 && (desirable === 0 || undesirable === 0)) {
    const up = undesirable === 0;
    return {
      desirable,
      undesirable,
      warning: up
        ? `all ${desirable} rows are desirable (label true) and none undesirable: KTO then only raises these answers (against its KL baseline), with nothing to lower, and no weight changes that; add rows labelled false, or train SFT on these answers.`
        : `all ${undesirable} rows are undesirable (label false) and none desirable: KTO then only lowers these answers, with nothing to raise, and no weight changes that; add rows labelled true.`,
    };
  }
  // As TRL: counts of at least 1, bounds rounded to 2 decimals, a warning only when neither weight is in its range.
  const [d, u] = [Math.max(desirable, 1), Math.max(desirable + undesirable - Math.max(desirable, 1), 1)];
  if (d === u) return { desirable, undesirable };
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const dLow = round2((u * undesirableWeight) / d);
  const dHigh = round2(((u * undesirableWeight) / d) * 1.33);
  const uLow = round2((d * desirableWeight) / u / 1.33);
  const uHigh = round2((d * desirableWeight) / u);
  const inRange = (x: number, lo: number, hi: number) => lo <= x && x <= hi;
  if (inRange(desirableWeight, dLow, dHigh) || inRange(undesirableWeight, uLow, uHigh)) return { desirable, undesirable };
  return {
    desirable,
    undesirable,
    warning:
      `${desirable} desirable and ${undesirable} undesirable rows, and the weights do not make up for the difference: ` +
      `set EITHER desirable_weight in [${dLow}, ${dHigh}] OR undesirable_weight in [${uLow}, ${uHigh}] (not both), as TRL advises.`,
  };
}
