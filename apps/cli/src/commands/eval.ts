// `pnpm cli eval`: TRL's evaluation metrics of an adapter (stack) on a dataset, as one JSON object.
import { integerOption, numberOption, parseCommandArgs, UsageError } from '../args.ts';
import {
  adapterArg,
  importAdapterArg,
  loadData,
  methodOption,
  modelArg,
  openWithModel,
  readDataFile,
  refuseOtherMethodFlags,
} from './shared.ts';

export const help = `pnpm cli eval --method sft|dpo --model <dir|hub-id> --data <file.jsonl> [--adapter <dir>] [--ref-adapter <dir>] [--beta B] [--loss-type T] [--label-smoothing S] [--max-length N] [--batch-size N] --json

SFT: loss (token-weighted mean over the whole file's completion tokens) and num_tokens.
DPO: means over pairs of loss, rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins,
logps/chosen, logps/rejected; reference = model + --ref-adapter, policy = that + --adapter.
Prints one JSON object on stdout (use \`pnpm -s cli\` to keep pnpm's banner off stdout).`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('eval', argv, {
    method: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    adapter: { type: 'string' },
    'ref-adapter': { type: 'string' },
    beta: { type: 'string' },
    'loss-type': { type: 'string' },
    'label-smoothing': { type: 'string' },
    'max-length': { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'boolean' },
    gpu: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  const method = methodOption(values.method);
  refuseOtherMethodFlags(values, method);
  const beta = numberOption('beta', values.beta, 0.1, 1e-6);
  const labelSmoothing = numberOption('label-smoothing', values['label-smoothing'], 0, 0, 0.5);
  const maxLength = integerOption('max-length', values['max-length'], 1024, 2);
  const batchSize = integerOption('batch-size', values['batch-size'], 8, 1);
  const lossType = values['loss-type'] ?? 'sigmoid';
  if (!['sigmoid', 'ipo', 'hinge'].includes(lossType))
    throw new UsageError(`--loss-type must be sigmoid, ipo or hinge (got "${lossType}")`);
  if (labelSmoothing > 0 && lossType !== 'sigmoid')
    throw new UsageError(`--label-smoothing applies to --loss-type sigmoid only; ${lossType} ignores it: remove it`);
  const model = modelArg(values.model);
  const refAdapter = adapterArg(values['ref-adapter'], 'ref-adapter');
  const adapter = adapterArg(values.adapter, 'adapter');
  const data = readDataFile(values.data);
  const { engine, progress } = await openWithModel(model, values);
  try {
    const refAdapterId = refAdapter ? await importAdapterArg(engine, refAdapter) : null;
    // The adapter sits on top of the reference adapter: its stack is [ref, adapter].
    const adapterId = adapter ? await importAdapterArg(engine, adapter, refAdapterId) : null;
    const ds = await loadData(engine, progress, method, data, maxLength);
    const metrics = await engine.call('evaluate', {
      datasetId: ds.id,
      adapterId: method === 'sft' ? (adapterId ?? refAdapterId) : adapterId,
      refAdapterId,
      beta,
      lossType: lossType as 'sigmoid' | 'ipo' | 'hinge',
      labelSmoothing,
      batchSize,
    });
    process.stdout.write(`${JSON.stringify(metrics)}\n`);
    return 0;
  } finally {
    await engine.close();
  }
}
