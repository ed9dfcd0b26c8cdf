// `pnpm cli ab`: a blind A/B comparison of two models on the same prompts, in two steps. With --prompts it generates
// both models' answers and writes them blind (A/B sides drawn per prompt) for a judge; with --run and --verdicts it
// reveals the names and prints the summary (win rates with 95% Wilson intervals) as JSON.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type AbModels,
  type AbRow,
  blindRow,
  candidateSeeds,
  exportAb,
  firstLabel,
  pairsFromAb,
  readPromptsFile,
  readVerdicts,
  summariseAb,
  writePairs,
} from '@webtune/trainer';
import { parseCommandArgs, RUNTIME_HELP, UsageError } from '../args.ts';
import { OutputFolder } from '../out-dir.ts';
import { checked, readInputFile, SAMPLING_FLAGS, SAMPLING_HELP, samplingOptions } from './pairs-files.ts';
import { adapterArg, importAdapterArg, modelArg, openWithModel } from './shared.ts';

export const help = `pnpm cli ab --model <dir|hub-id> --prompts <file> --out <dir> --first <dir|base> --second <dir|base> [options]
pnpm cli ab --run <dir> --verdicts <verdicts.jsonl> [--ties split|excluded] [--out <dir>]

Step 1 writes <out>/blind.jsonl ({"id","prompt","A","B"} per prompt, no model names: give it to the judge) and
<out>/ab-run.json (which model is A on each prompt, kept from the judge).
Step 2 reads the judge's verdicts ({"id", "verdict": "A" | "B" | "tie"} per line) and prints the summary as JSON: wins,
win rate and 95% Wilson interval of each model, ties split (half a win each; the default) or excluded, and the
per-prompt table. With --out it also writes summary.json, results.jsonl (both answers, names, verdict) and the decided
prompts as DPO pairs (pairs.jsonl + pairs.provenance.jsonl).

  --first, --second      a PEFT folder each (for DPO trained on an SFT adapter, its <out>/stacked), or "base"
  --first-name, --second-name   how the summary names them (default: the folder names)
  --overwrite            replace <out> if it holds files (never the --run folder: step 2 writes elsewhere)
${SAMPLING_HELP.replace('DEFAULT_T', '0: greedy; above 0, both models get the same seed per prompt')}
${RUNTIME_HELP}
  --verbose              forward the page's console`;

const RUN_FILE = 'ab-run.json';
/** The flags of each step (--out, --overwrite and --verbose go with both). */
const STEP1_FLAGS = ['model', 'prompts', 'first', 'second', 'first-name', 'second-name', ...Object.keys(SAMPLING_FLAGS), 'gpu', 'runtime'];
const STEP2_FLAGS = ['verdicts', 'ties'];

interface AbRunFile {
  models: AbModels;
  model: string;
  sampling: ReturnType<typeof samplingOptions>;
  rows: AbRow[];
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('ab', argv, {
    model: { type: 'string' },
    prompts: { type: 'string' },
    out: { type: 'string' },
    overwrite: { type: 'boolean' },
    first: { type: 'string' },
    second: { type: 'string' },
    'first-name': { type: 'string' },
    'second-name': { type: 'string' },
    ...SAMPLING_FLAGS,
    run: { type: 'string' },
    verdicts: { type: 'string' },
    ties: { type: 'string' },
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  // Each step reads its own flags: one of the other step's would be ignored, so it is refused by name.
  const step2 = values.run !== undefined;
  const others = (step2 ? STEP1_FLAGS : STEP2_FLAGS).filter((f) => (values as Record<string, unknown>)[f] !== undefined);
  if (others.length > 0)
    throw new UsageError(
      step2
        ? `${others.map((f) => `--${f}`).join(', ')} ${others.length > 1 ? 'are' : 'is'} for step 1 (the answers); step 2 (--run) only scores them: leave ${others.length > 1 ? 'them' : 'it'} out`
        : `--${others[0]} goes with --run <the folder step 1 wrote> (step 2)`,
    );
  return step2 ? summarise(values) : generate(values);
}

async function generate(values: Record<string, string | boolean | undefined>): Promise<number> {
  const str = (k: string) => values[k] as string | undefined;
  for (const flag of ['first', 'second'])
    if (!str(flag)) throw new UsageError(`--${flag} is required: a PEFT adapter folder, or "base" for the base model`);
  if (resolve(str('first') as string) === resolve(str('second') as string))
    throw new UsageError('--first and --second are the same model: compare two different ones');
  if (!str('out')) throw new UsageError('--out is required: the folder to write blind.jsonl and ab-run.json to');
  const sampling = samplingOptions(values as Record<string, string>, 0);
  const { text, file } = readInputFile('prompts', str('prompts'), 'a file of prompts (JSONL or one per line)');
  const prompts = checked(() => readPromptsFile(text, file, { chat: values.chat === true }));
  const out = OutputFolder.check(str('out') as string, 'out', [
    { flag: 'prompts', path: str('prompts') },
    { flag: 'first', path: str('first') },
    { flag: 'second', path: str('second') },
    { flag: 'model', path: str('model') },
  ]).requireEmptyOr(values.overwrite === true);
  const side = (flag: 'first' | 'second') => (str(flag) === 'base' ? null : adapterArg(str(flag), flag));
  const adapters = { first: side('first'), second: side('second') };
  const name = (flag: 'first' | 'second') => str(`${flag}-name`) ?? (adapters[flag]?.dir.replace(/\/+$/, '').split('/').pop() || 'base');
  const models: AbModels = { first: name('first'), second: name('second') };
  if (models.first === models.second) throw new UsageError(`both models are named "${models.first}": give --first-name and --second-name`);
  const model = modelArg(str('model'));
  const { engine, progress } = await openWithModel(model, values);
  try {
    const ids = {
      first: adapters.first ? await importAdapterArg(engine, adapters.first) : null,
      second: adapters.second ? await importAdapterArg(engine, adapters.second) : null,
    };
    const rows: AbRow[] = [];
    for (const [i, p] of prompts.entries()) {
      progress.line(`prompt ${i + 1} of ${prompts.length} (line ${p.line})`);
      // Both models sample with the same seed on a prompt: the comparison is of the models, not of the draws.
      const seed = candidateSeeds(sampling.seed, i, 1)[0];
      const answer = async (adapterId: string | null) =>
        (
          await engine.call('generate', {
            prompt: p.prompt,
            adapterId,
            maxNewTokens: sampling.max_new_tokens,
            temperature: sampling.temperature,
            topP: sampling.top_p,
            seed,
          })
        ).text;
      rows.push({
        id: `line-${p.line}`,
        prompt: p.prompt,
        first: await answer(ids.first),
        second: await answer(ids.second),
        firstIs: firstLabel(sampling.seed, i),
      });
    }
    const blind = out.add('blind.jsonl', rows.map((r) => `${JSON.stringify(blindRow(r))}\n`).join(''));
    const run: AbRunFile = { models, model: model.label, sampling, rows };
    out.add(RUN_FILE, `${JSON.stringify(run, null, 1)}\n`);
    out.commit();
    progress.line(`wrote ${blind} for the judge (${rows.length} prompts); then: pnpm cli ab --run ${str('out')} --verdicts <file>`);
    return 0;
  } finally {
    await engine.close();
  }
}

function summarise(values: Record<string, string | boolean | undefined>): number {
  const runDir = values.run as string;
  const path = join(resolve(runDir), RUN_FILE);
  if (!existsSync(path)) throw new UsageError(`--run ${runDir} has no ${RUN_FILE}: give the folder \`pnpm cli ab --prompts ...\` wrote`);
  let run: AbRunFile;
  try {
    run = JSON.parse(readFileSync(path, 'utf8'));
    if (!Array.isArray(run.rows) || typeof run.models?.first !== 'string') throw new Error('no "rows" list and "models" names');
  } catch (err) {
    throw new UsageError(`--run ${runDir}: ${RUN_FILE} is not an A/B run file (${(err as Error).message}); run step 1 again`);
  }
  const ties = (values.ties as string | undefined) ?? 'split';
  if (ties !== 'split' && ties !== 'excluded') throw new UsageError(`--ties must be split or excluded (got "${ties}")`);
  const v = readInputFile('verdicts', values.verdicts as string | undefined, 'one line per prompt: {"id", "verdict": "A" | "B" | "tie"}');
  const verdicts = checked(() => readVerdicts(v.text, v.file, run.rows));
  const rows = run.rows.map((r) => ({ ...r, verdict: verdicts.get(r.id) }));
  const summary = summariseAb(rows, run.models, ties);
  if (values.out !== undefined) {
    const out = OutputFolder.check(values.out as string, 'out', [
      { flag: 'run', path: runDir },
      { flag: 'verdicts', path: values.verdicts as string | undefined },
    ]).requireEmptyOr(values.overwrite === true);
    out.add('summary.json', `${JSON.stringify(summary, null, 1)}\n`);
    out.add('results.jsonl', exportAb(rows, run.models));
    const pairs = pairsFromAb(rows, run.models);
    if (pairs.length > 0) {
      const { data, provenance } = writePairs(pairs);
      out.add('pairs.jsonl', data);
      out.add('pairs.provenance.jsonl', provenance);
    }
    out.commit();
  }
  process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
  return 0;
}
