import { describe, expect, it } from 'vitest';
import { wilsonInterval } from './wilson.ts';
import { winRates } from './winrate.ts';

describe('winRates', () => {
  it('splits ties as half a win each, counting every prompt', () => {
    const s = winRates(3, 1, 2, 'split');
    expect(s).toMatchObject({ ties: 'split', judged: 6, counted: 6, wins: 3, losses: 1, tied: 2 });
    expect(s.first.rate).toBeCloseTo(4 / 6, 12);
    expect(s.first.interval).toEqual(wilsonInterval(4, 6));
    expect(s.second.rate).toBeCloseTo(2 / 6, 12);
    expect(s.second.interval.low).toBeCloseTo(wilsonInterval(2, 6).low, 12);
    expect(s.second.interval.high).toBeCloseTo(wilsonInterval(2, 6).high, 12);
  });

  it('excludes ties when asked, counting only decided prompts', () => {
    const s = winRates(3, 1, 2, 'excluded');
    expect(s).toMatchObject({ ties: 'excluded', judged: 6, counted: 4 });
    expect(s.first.rate).toBe(0.75);
    expect(s.first.interval).toEqual(wilsonInterval(3, 4));
  });

  it('gives an even rate and the widest interval when nothing is decided', () => {
    const s = winRates(0, 0, 3, 'excluded');
    expect(s.first).toEqual({ rate: 0.5, interval: { low: 0, high: 1 } });
  });
});
