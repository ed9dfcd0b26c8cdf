// `pnpm cli eval`: TRL's evaluation metrics of an adapter (stack) on a dataset, as one JSON object.
import { defaultConfig, HYPER_PARAMS, setFromText, validateConfig } from '@webtune/trainer';
import { integerOption, type OptionSpec, parseCommandArgs, RUNTIME_HELP, UsageError } from '../args.ts';
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

/**
 * The methods' own settings, train's flags by the same names: the objectives' (beta, loss type, KTO weights, SimPO's
 * gamma...) and SFT's loss masks (--completion-only-loss, --assistant-only-loss), so an adapter is measured on the
 * tokens it was trained on.
 */
const OBJECTIVE_PARAMS = HYPER_PARAMS.filter((p) => p.only && !p.lora);

export const help = `pnpm cli eval --method sft|dpo|kto|orpo|simpo --model <dir|hub-id> --data <file.jsonl> [--adapter <dir>] [--ref-adapter <dir>] [--max-length N] [--batch-size N] [method settings]

SFT: loss (token-weighted mean over the whole file's tokens under the loss: the completion, or each assistant
turn, as --completion-only-loss and --assistant-only-loss say; give the values the adapter was trained with) and
num_tokens.
DPO: means over pairs of loss, rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins,
logps/chosen, logps/rejected; reference = model + --ref-adapter, policy = that + --adapter.
KTO: loss (mean over rows), kl, rewards/* and logps/* of each label, rewards/margins, as TRL logs them;
reference and policy as DPO's. Rows pair up for the KL term within each --batch-size batch, in file order.
ORPO: loss, nll_loss, log_odds_ratio, log_odds_chosen, rewards/* and logps/* (length-averaged); SimPO: the
same without the log odds. No reference: the model + --ref-adapter (if any) + --adapter is evaluated.
Prints one JSON object on stdout, with --json or without (use \`pnpm -s cli\` to keep pnpm's banner off stdout).
method settings (as train's; each only with its methods):
${OBJECTIVE_PARAMS.map((p) => `  --${p.flag.padEnd(22)} (${p.only?.join('/')}) ${p.help}`).join('\n')}

${RUNTIME_HELP}
  --verbose                     forward the page's console`;

export async function run(argv: string[]): Promise<number> {
  const options: OptionSpec = {
    method: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    adapter: { type: 'string' },
    'ref-adapter': { type: 'string' },
    'max-length': { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'boolean' },
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
  };
  for (const p of OBJECTIVE_PARAMS) options[p.flag] = { type: 'string' };
  const { values } = parseCommandArgs('eval', argv, options);
  const method = methodOption(values.method as string | undefined);
  refuseOtherMethodFlags(values, method);
  const config = defaultConfig(method);
  config.maxLength = integerOption('max-length', values['max-length'] as string | undefined, 1024, 2);
  config.batchSize = integerOption('batch-size', values['batch-size'] as string | undefined, 8, 1);
  try {
    for (const p of OBJECTIVE_PARAMS) if (values[p.flag] !== undefined) setFromText(config, p.flag, String(values[p.flag]));
    validateConfig(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const model = modelArg(values.model as string | undefined);
  const refAdapter = adapterArg(values['ref-adapter'] as string | undefined, 'ref-adapter');
  const adapter = adapterArg(values.adapter as string | undefined, 'adapter');
  const data = readDataFile(values.data as string | undefined);
  const { engine, progress } = await openWithModel(model, values as { gpu?: string; runtime?: string; verbose?: boolean });
  try {
    const refAdapterId = refAdapter ? await importAdapterArg(engine, refAdapter) : null;
    // The adapter sits on top of the reference adapter: its stack is [ref, adapter].
    const adapterId = adapter ? await importAdapterArg(engine, adapter, refAdapterId) : null;
    const ds = await loadData(engine, progress, method, data, config.maxLength, undefined, config);
    const { beta, lossType, labelSmoothing, desirableWeight, undesirableWeight, simpoGamma, cpoAlpha, batchSize } = config;
    const metrics = await engine.call('evaluate', {
      datasetId: ds.id,
      adapterId: method === 'sft' ? (adapterId ?? refAdapterId) : adapterId,
      refAdapterId,
      ...{ beta, lossType, labelSmoothing, desirableWeight, undesirableWeight, simpoGamma, cpoAlpha, batchSize },
    });
    process.stdout.write(`${JSON.stringify(metrics)}\n`);
    return 0;
  } finally {
    await engine.close();
  }
}
