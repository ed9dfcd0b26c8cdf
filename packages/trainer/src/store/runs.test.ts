// A checkpoint keeps what a resumed run needs of load_best_model_at_end: the best evaluation's step, value and weights.
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../train/config.ts';
import type { RunState } from '../train/trainer.ts';
import { checkpointOf, resumeState } from './runs.ts';

const state = (best?: RunState['best']): RunState => ({
  optimizerStep: 4,
  epoch: 1,
  cursor: 2,
  params: Float32Array.of(1, 2),
  m: Float32Array.of(0),
  v: Float32Array.of(0),
  metrics: [{ step: 4, eval_loss: 0.5 }],
  pending: [],
  numTokens: 10,
  ...(best ? { best } : {}),
});
const request = { config: defaultConfig('sft'), datasetId: 'd' };

describe('checkpoints and the best evaluation', () => {
  it('keep its step, value and weights, and give them back to a resumed run', () => {
    const best = { step: 2, value: 0.4, params: Float32Array.of(3, 4) };
    const ckpt = checkpointOf('run', request, {}, state(best));
    expect(ckpt.progress.best).toEqual({ step: 2, value: 0.4 });
    expect(ckpt.state.bestParams).toBe(best.params);
    expect(resumeState(ckpt).best).toEqual(best);
  });

  it('have none when the run has no best yet', () => {
    const ckpt = checkpointOf('run', request, {}, state());
    expect(ckpt.progress.best).toBeUndefined();
    expect(ckpt.state.bestParams).toBeUndefined();
    expect(resumeState(ckpt).best).toBeUndefined();
  });
});
