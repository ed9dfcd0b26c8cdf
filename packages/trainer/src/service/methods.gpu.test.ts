// KTO, ORPO and SimPO through the service as the studio and the CLI call it: a dataset loaded for the method, a run
// that saves an adapter with its training_config.json in TRL's names, and an evaluation through the same objective.
// The anchor: evaluating the base model over the whole file in one batch gives the metrics the first training step
// logs over the same batch (that step measures the starting policy, whose new adapter is still zero).
import { gpuTest } from '@webtune/harness/page';
import { check, config, dataset, dpoJsonl, service, type train, trained } from '../../test/engine.ts';
import type { TrainMethod } from '../train/config.ts';

const dec = new TextDecoder();

/** Four unpaired KTO rows, labels mixed so both label's metrics and the KL pairing across rows matter. */
const KTO_ROWS = [
  { prompt: 'hi?', completion: ' yes', label: true },
  { prompt: 'a cat?', completion: ' never!', label: false },
  { prompt: 'the sea?', completion: ' maybe', label: true },
  { prompt: 'rain?', completion: ' why not', label: false },
];
const ktoJsonl = `${KTO_ROWS.map((r) => JSON.stringify(r)).join('\n')}\n`;

/** What TRL logs for each method besides loss and the loop's own (grad_norm, learning_rate, epoch, num_tokens). */
const PAIR_METRICS = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
const METRICS: Record<'kto' | 'orpo' | 'simpo', string[]> = {
  kto: ['loss', 'kl', 'rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected', 'rewards/margins'],
  orpo: ['loss', ...PAIR_METRICS, 'nll_loss', 'log_odds_ratio', 'log_odds_chosen'],
  simpo: ['loss', ...PAIR_METRICS, 'nll_loss'],
};
const TRAINER = { kto: 'KTOTrainer', orpo: 'ORPOTrainer', simpo: 'CPOTrainer' };

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 + 1e-5 * Math.abs(b);

for (const method of ['kto', 'orpo', 'simpo'] as const) {
  gpuTest(
    `${method}: trains an adapter, writes TRL's config and metric names, and evaluates the base as its first step measured it`,
    async () => {
      const svc = await service();
      const text = method === 'kto' ? ktoJsonl : dpoJsonl(4);
      const data = await dataset(svc, method, text);
      const cfg = config(method, { batchSize: 4, maxSteps: 2, learningRate: 5e-2 });
      const base = await svc.evaluate({ datasetId: data, batchSize: 4 });
      check(Object.keys(base).sort().join() === [...METRICS[method]].sort().join(), `${method} eval keys ${Object.keys(base)}`);
      if (method === 'kto')
        check(
          base.kl === 0 && base['rewards/chosen'] === 0 && base['rewards/rejected'] === 0,
          `KTO at the reference: ${JSON.stringify(base)}`,
        );

      const run = await trained(svc, { config: cfg, datasetId: data });
      const first = run.logs[0];
      for (const k of METRICS[method])
        check(close(first[k], base[k]), `${method} ${k}: step 1 logged ${first[k]}, eval of the base gives ${base[k]}`);
      check(run.logs.length === 2, `${run.logs.length} log records`);

      const summary = (await svc.listAdapters()).find((a) => a.id === run.id);
      check(
        summary?.method === method && summary.name.startsWith({ kto: 'KTO', orpo: 'ORPO', simpo: 'SimPO' }[method]),
        `adapter ${JSON.stringify(summary)}`,
      );
      const files = await svc.exportAdapter(run.id);
      const trl = JSON.parse(dec.decode(files.find((f) => f.name === 'training_config.json')!.data));
      check(trl.trainer === TRAINER[method], `trainer ${trl.trainer}`);
      if (method === 'simpo') check(trl.loss_type === 'simpo' && trl.simpo_gamma === 0.5 && trl.cpo_alpha === 0, JSON.stringify(trl));
      if (method === 'kto') check(trl.desirable_weight === 1 && trl.train_sampling_strategy === 'sequential', JSON.stringify(trl));

      const after = await svc.evaluate({ datasetId: data, adapterId: run.id, batchSize: 4 });
      check(!close(after.loss, base.loss), `the adapter did not move the ${method} loss (${after.loss} vs ${base.loss})`);
      await svc.deleteAdapter(run.id);
    },
  );
}

gpuTest('kto: reference log-probs are computed once and read back by the next run of the same data and batch size', async () => {
  const svc = await service();
  const data = await dataset(svc, 'kto', ktoJsonl, 'kto-cache.jsonl');
  const cfg = config('kto', { batchSize: 2, maxSteps: 2, seed: 11 });
  const phases = (run: Awaited<ReturnType<typeof train>>) =>
    run.events.flatMap((e) => (e.type === 'phase' && e.phase === 'reference' ? [e.message] : []));
  const one = await trained(svc, { config: cfg, datasetId: data });
  const two = await trained(svc, { config: cfg, datasetId: data });
  check(phases(one)[0].includes('0 of 8 answers and KL rows cached'), `first run: ${phases(one)}`);
  check(phases(two)[0] === 'reference log-probs: all cached', `second run: ${phases(two)}`);
  // The same rows, the same reference, the same steps: the same numbers.
  check(JSON.stringify(one.logs) === JSON.stringify(two.logs), 'a cached reference changed the run');
  for (const id of [one.id, two.id]) await svc.deleteAdapter(id);
});

gpuTest('preference pairs serve DPO, ORPO and SimPO; KTO and SFT runs refuse them by name', async () => {
  const svc = await service();
  const data = await dataset(svc, 'dpo', dpoJsonl(4), 'pairs.jsonl');
  const run = await trained(svc, { config: config('orpo', { maxSteps: 1 }), datasetId: data });
  await svc.deleteAdapter(run.id);
  for (const method of ['kto', 'sft'] satisfies TrainMethod[]) {
    const err = await svc.train({ config: config(method), datasetId: data }, () => {}).catch((e: Error) => e);
    check(
      err instanceof Error &&
        err.name === 'TrainingError' &&
        err.message ===
          `pairs.jsonl was loaded for DPO, but the run is ${method.toUpperCase()}: load it again for ${method.toUpperCase()}.`,
      `${method}: ${err instanceof Error ? `${err.name}: ${err.message}` : 'trained'}`,
    );
  }
});

gpuTest('kto: a DPO file loaded for KTO is unpaired (chosen desirable, rejected undesirable) and its balance counted', async () => {
  const svc = await service();
  const summary = await svc.loadDataset('kto', dpoJsonl(3), 'pairs-for-kto.jsonl', 64);
  check(summary.kept === 6 && summary.balance?.desirable === 3 && summary.balance.undesirable === 3, JSON.stringify(summary.balance));
  check(summary.preview[0].label === true && summary.preview[3].label === false, JSON.stringify(summary.preview));
});
