// `pnpm cli candidates`: K answers per prompt from the model (base, or base + adapter), sampled with a temperature and
// a seed per candidate, written as candidates JSONL for a judge (a person, a script, an LLM) to score.
import { type CandidateSet, candidateSeeds, checkCandidateCount, readPromptsFile, writeCandidates } from '@webtune/trainer';
import { integerOption, parseCommandArgs, RUNTIME_HELP, UsageError } from '../args.ts';
import { OutputFolder } from '../out-dir.ts';
import { checked, readInputFile, SAMPLING_FLAGS, SAMPLING_HELP, samplingOptions } from './pairs-files.ts';
import { adapterArg, importAdapterArg, modelArg, openWithModel } from './shared.ts';

export const help = `pnpm cli candidates --model <dir|hub-id> --prompts <file> --out <dir> [--adapter <dir>] [--k 2] [sampling]

Writes <out>/candidates.jsonl: one line per prompt, {"id","prompt","candidates","model","adapter","sampling","seeds"}
(and "reference", the answer an SFT row already had). Score it (one line per prompt: {"id","scores":[...]}) and run
\`pnpm cli pairs\` to make DPO pairs.

  --prompts <file>       JSONL {"prompt": text or messages}, SFT rows (prompt/completion or messages; the answer is
                         kept as the reference), or plain text, one prompt per line
  --adapter <dir>        a PEFT folder (e.g. your SFT adapter); without it, the base model answers
  --k K                  candidates per prompt, 2 to 4 (default 2)
  --overwrite            replace <out> if it holds files
${SAMPLING_HELP.replace('DEFAULT_T', '0.8')}
${RUNTIME_HELP}
  --verbose              forward the page's console`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('candidates', argv, {
    model: { type: 'string' },
    prompts: { type: 'string' },
    out: { type: 'string' },
    overwrite: { type: 'boolean' },
    adapter: { type: 'string' },
    k: { type: 'string' },
    ...SAMPLING_FLAGS,
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  const k = integerOption('k', values.k, 2, 0, 100);
  checked(() => checkCandidateCount(k, '--k'));
  const sampling = samplingOptions(values, 0.8);
  if (sampling.temperature === 0)
    throw new UsageError(
      '--temperature 0 is greedy: every candidate of a prompt would be the same answer. Give a temperature above 0 (0.7 to 1 is usual)',
    );
  if (!values.out) throw new UsageError('--out is required: the folder to write candidates.jsonl to');
  const { text, file } = readInputFile('prompts', values.prompts, 'a file of prompts (JSONL or one per line)');
  const prompts = checked(() => readPromptsFile(text, file, { chat: values.chat === true }));
  const out = OutputFolder.check(values.out, 'out', [
    { flag: 'prompts', path: values.prompts },
    { flag: 'adapter', path: values.adapter },
    { flag: 'model', path: values.model },
  ]).requireEmptyOr(values.overwrite === true);
  const model = modelArg(values.model);
  const adapter = adapterArg(values.adapter, 'adapter');
  const { engine, progress } = await openWithModel(model, values);
  try {
    const adapterId = adapter ? await importAdapterArg(engine, adapter) : null;
    const sets: CandidateSet[] = [];
    for (const [i, p] of prompts.entries()) {
      progress.line(`prompt ${i + 1} of ${prompts.length} (line ${p.line}): ${k} candidates`);
      const seeds = candidateSeeds(sampling.seed, i, k);
      const candidates: string[] = [];
      for (const seed of seeds) {
        const request = {
          prompt: p.prompt,
          adapterId,
          maxNewTokens: sampling.max_new_tokens,
          temperature: sampling.temperature,
          topP: sampling.top_p,
          seed,
        };
        candidates.push((await engine.call('generate', request)).text);
      }
      sets.push({
        id: `line-${p.line}`,
        prompt: p.prompt,
        candidates,
        model: model.label,
        adapter: adapter?.dir ?? null,
        sampling,
        seeds,
        ...(p.reference !== undefined && { reference: p.reference }),
      });
    }
    const path = out.add('candidates.jsonl', writeCandidates(sets));
    out.commit();
    progress.line(`wrote ${path}: ${sets.length} prompts x ${k} candidates`);
    return 0;
  } finally {
    await engine.close();
  }
}
