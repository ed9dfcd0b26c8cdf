// When a run evaluates (eval_strategy, eval_steps) and which evaluation is the best (metric_for_best_model, with
// transformers' greater_is_better default and strict comparison).
import { describe, expect, it } from 'vitest';
import { evaluationDue, improves } from './validation.ts';

describe('evaluationDue', () => {
  it('"steps": after every eval_steps-th optimizer step', () => {
    const due = [1, 2, 3, 4, 5, 6, 7].filter((s) => evaluationDue({ evalStrategy: 'steps', evalSteps: 3 }, s, false));
    expect(due).toEqual([3, 6]);
  });

  it('"epoch": after the step that ends an epoch; "no": never', () => {
    expect(evaluationDue({ evalStrategy: 'epoch', evalSteps: 1 }, 4, true)).toBe(true);
    expect(evaluationDue({ evalStrategy: 'epoch', evalSteps: 1 }, 4, false)).toBe(false);
    expect(evaluationDue({ evalStrategy: 'no', evalSteps: 1 }, 4, true)).toBe(false);
  });
});

describe('improves (the best step)', () => {
  it('a loss: lower is better; a tie keeps the earlier step', () => {
    expect(improves('eval_loss', 1.2, undefined)).toBe(true);
    expect(improves('eval_loss', 1.1, { value: 1.2 })).toBe(true);
    expect(improves('eval_loss', 1.2, { value: 1.2 })).toBe(false);
    expect(improves('eval_loss', 1.3, { value: 1.2 })).toBe(false);
  });

  it('rewards and accuracies: higher is better', () => {
    expect(improves('eval_rewards/accuracies', 0.75, { value: 0.5 })).toBe(true);
    expect(improves('eval_rewards/margins', -0.1, { value: 0.2 })).toBe(false);
    expect(improves('eval_nll_loss', 0.5, { value: 0.7 })).toBe(true);
  });

  it('never a missing or non-finite value', () => {
    expect(improves('eval_loss', Number.NaN, undefined)).toBe(false);
    expect(improves('eval_loss', Number.POSITIVE_INFINITY, { value: 1 })).toBe(false);
    expect(improves('eval_loss', undefined, undefined)).toBe(false);
  });
});

/** The choice over a run's evaluations, as afterStep makes it step by step. */
function bestOf(metric: string, values: [number, number][]): number | undefined {
  let best: { step: number; value: number } | undefined;
  for (const [step, value] of values) if (improves(metric, value, best)) best = { step, value };
  return best?.step;
}

it('picks the step of the lowest eval_loss, the highest accuracy, and the first of equals', () => {
  const losses: [number, number][] = [
    [2, 0.9],
    [4, 0.7],
    [6, 0.71],
    [8, 0.7],
  ];
  expect(bestOf('eval_loss', losses)).toBe(4);
  expect(bestOf('eval_rewards/accuracies', losses)).toBe(2);
  expect(
    bestOf('eval_loss', [
      [2, Number.NaN],
      [4, 2],
    ]),
  ).toBe(4);
});
