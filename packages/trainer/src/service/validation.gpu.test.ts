// A validation split through the service as the studio and the CLI use it: val_size rows held out of the training
// file (recorded by line in training_config.json), eval_<metric> records at the steps eval_strategy asks for, and
// load_best_model_at_end. The anchor: an evaluation logged at a step is what `evaluate` gives, run on its own, for the
// adapter of that step on the same rows (the held-out lines loaded as a file of their own).
import { gpuTest } from '@webtune/harness/page';
import { check, config, dataset, dpoJsonl, service, sftJsonl, trained } from '../../test/engine.ts';
import { EVAL_METRICS, type TrainConfig } from '../train/config.ts';
import type { LogRecord } from '../train/events.ts';

const dec = new TextDecoder();

/** The run's training_config.json, as exported. */
async function trainingConfig(id: string): Promise<Record<string, unknown>> {
  const svc = await service();
  const files = await svc.exportAdapter(id);
  return JSON.parse(dec.decode(files.find((f) => f.name === 'training_config.json')!.data));
}

/** The held-out lines of `text` as a file of their own, loaded for `method`. */
async function heldOutFile(method: TrainConfig['method'], text: string, lines: number[]): Promise<string> {
  const all = text.trim().split('\n');
  return dataset(await service(), method, `${lines.map((l) => all[l - 1]).join('\n')}\n`, `held-out-${method}.jsonl`);
}

const evals = (logs: LogRecord[]) => logs.filter((r) => 'eval_loss' in r);

gpuTest('sft: val_size rows held out, eval_loss every eval_steps, and the best step kept equals evaluate on those rows', async () => {
  const svc = await service();
  const text = sftJsonl(8, 3);
  const data = await dataset(svc, 'sft', text, 'split.jsonl');
  // A learning rate this high overshoots: the held-out loss falls, then rises, so the best step is not the last.
  const base = { valSize: 0.25, evalStrategy: 'steps', evalSteps: 1, maxSteps: 3, learningRate: 0.2 } as const;
  const last = await trained(svc, { config: config('sft', base), datasetId: data });
  const best = await trained(svc, { config: config('sft', { ...base, loadBestModelAtEnd: true }), datasetId: data });

  const records = evals(last.logs);
  check(records.map((r) => r.step).join() === '1,2,3', `eval steps ${records.map((r) => r.step)}`);
  for (const r of records) check(Object.keys(r).sort().join() === 'epoch,eval_loss,step', `eval record ${JSON.stringify(r)}`);
  check(JSON.stringify(evals(best.logs)) === JSON.stringify(records), 'load_best_model_at_end changed the run itself');

  const trl = await trainingConfig(best.id);
  const split = trl.eval_dataset as { held_out_from: string; val_size: number; seed: number; rows: number; lines: number[] };
  check(
    split.held_out_from === 'split.jsonl' && split.val_size === 0.25 && split.seed === 7 && split.rows === 2 && split.lines.length === 2,
    `eval_dataset ${JSON.stringify(split)}`,
  );
  check(trl.eval_strategy === 'steps' && trl.metric_for_best_model === 'eval_loss' && trl.greater_is_better === false, JSON.stringify(trl));
  const held = await heldOutFile('sft', text, split.lines);

  const atLast = await svc.evaluate({ datasetId: held, adapterId: last.id, batchSize: 2 });
  check(atLast.loss === records[2].eval_loss, `step 3 logged eval_loss ${records[2].eval_loss}; evaluate gives ${atLast.loss}`);

  const lowest = records.reduce((a, b) => (b.eval_loss < a.eval_loss ? b : a));
  check(lowest.step < 3, `the setup must make an earlier step the best: ${records.map((r) => r.eval_loss)}`);
  check(trl.best_global_step === lowest.step && trl.best_metric === lowest.eval_loss, `best ${trl.best_global_step} ${trl.best_metric}`);
  check(best.result.message.includes(`kept the adapter of step ${lowest.step}`), best.result.message);
  const atBest = await svc.evaluate({ datasetId: held, adapterId: best.id, batchSize: 2 });
  check(atBest.loss === lowest.eval_loss, `best step ${lowest.step} logged eval_loss ${lowest.eval_loss}; evaluate gives ${atBest.loss}`);
  for (const id of [last.id, best.id]) await svc.deleteAdapter(id);
});

gpuTest(
  'dpo: eval_strategy epoch logs TRL eval metrics once per epoch, equal to evaluate of the adapter on the held-out pairs',
  async () => {
    const svc = await service();
    const text = dpoJsonl(8, 1);
    const data = await dataset(svc, 'dpo', text, 'split-pairs.jsonl');
    // 2 of 8 pairs held out: 6 to train, batch 2, so an epoch is 3 steps.
    const cfg = config('dpo', { valSize: 2, evalStrategy: 'epoch', maxSteps: 3, learningRate: 5e-2 });
    const run = await trained(svc, { config: cfg, datasetId: data });
    const records = evals(run.logs);
    check(records.length === 1 && records[0].step === 3 && records[0].epoch === 1, `eval records ${JSON.stringify(records)}`);
    const keys = EVAL_METRICS.dpo.map((k) => `eval_${k}`);
    check(Object.keys(records[0]).sort().join() === ['epoch', 'step', ...keys].sort().join(), `keys ${Object.keys(records[0])}`);

    const split = (await trainingConfig(run.id)).eval_dataset as { lines: number[]; rows: number };
    check(split.rows === 2, JSON.stringify(split));
    const held = await heldOutFile('dpo', text, split.lines);
    const measured = await svc.evaluate({ datasetId: held, adapterId: run.id, batchSize: 2 });
    for (const k of EVAL_METRICS.dpo)
      check(measured[k] === records[0][`eval_${k}`], `${k}: logged ${records[0][`eval_${k}`]}, evaluate gives ${measured[k]}`);
    check(records[0]['eval_rewards/margins'] !== 0, 'the adapter did not move the held-out rewards');
    await svc.deleteAdapter(run.id);
  },
);

gpuTest('evaluation settings with no rows to evaluate, or two sources of them, are refused by name', async () => {
  const svc = await service();
  const data = await dataset(svc, 'sft', sftJsonl(4), 'four.jsonl');
  const other = await dataset(svc, 'sft', sftJsonl(2, 5), 'eval.jsonl');
  const refusal = async (cfg: Partial<TrainConfig>, evalDatasetId?: string) => {
    const err = await svc.train({ config: config('sft', cfg), datasetId: data, evalDatasetId }, () => {}).catch((e: Error) => e);
    return err instanceof Error ? `${err.name}: ${err.message}` : 'trained';
  };
  const none = await refusal({ evalStrategy: 'steps' });
  check(
    none ===
      'TrainingError: eval_strategy "steps" needs rows to evaluate: hold out part of four.jsonl with val_size (e.g. 0.1), or give an eval file.',
    none,
  );
  const both = await refusal({ evalStrategy: 'steps', valSize: 0.5 }, other);
  check(
    both ===
      'TrainingError: val_size 0.5 holds out rows of four.jsonl for evaluation, and eval.jsonl was given as the eval file too: use one of them.',
    both,
  );
  const all = await refusal({ evalStrategy: 'steps', valSize: 4 });
  check(
    all ===
      'DatasetError: four.jsonl: val_size 4 holds out 4 of its 4 usable rows, leaving none to train on: use a smaller val_size or a separate eval file.',
    all,
  );
});
