// `pnpm cli pairs`: candidates + a judge's scores -> DPO pairs (best vs worst candidate per prompt; a prompt whose
// candidates all score the same is dropped and counted), or synthetic pairs (the candidates' model over another
// model's candidates for the same prompts, or over a degraded copy), as TRL's preference JSONL with a provenance sidecar.
import {
  convertPreferences,
  degradedPairs,
  type PreferencePair,
  pairsFromScores,
  readCandidates,
  readScores,
  syntheticPairs,
  writePairs,
} from '@webtune/trainer';
import { parseCommandArgs, UsageError } from '../args.ts';
import { OutputFolder } from '../out-dir.ts';
import { checked, readInputFile } from './pairs-files.ts';

export const help = `pnpm cli pairs --candidates <candidates.jsonl> (--scores <scores.jsonl> | --rejected-candidates <candidates.jsonl> | --degrade) --out <dir> [--format trl|openai]

Writes <out>/pairs.jsonl (TRL's prompt/chosen/rejected, conversational when the prompts were: train it with
\`pnpm cli train --method dpo --data <out>/pairs.jsonl\`) and <out>/pairs.provenance.jsonl, whose line n says where
pair n came from (model, adapter, sampling, seeds, the scores, or "synthetic" and its rule). Prints what was made and dropped.

  --candidates <file>            written by \`pnpm cli candidates\`
  --scores <file>                one line per prompt: {"id": "<candidates id>", "scores": [<a number per candidate, higher is better>]}
  --rejected-candidates <file>   synthetic pairs: each prompt's first candidate over this file's first candidate for the same
                                 prompt (e.g. --candidates from the SFT adapter, this from the base model: \`candidates\` without --adapter)
  --degrade                      synthetic pairs: each prompt's first candidate over its first half (cut mid-thought)
  --format trl|openai            openai: OpenAI's and Together's rows (input.messages, preferred_output, non_preferred_output)
  --overwrite                    replace <out> if it holds files`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('pairs', argv, {
    candidates: { type: 'string' },
    scores: { type: 'string' },
    'rejected-candidates': { type: 'string' },
    degrade: { type: 'boolean' },
    out: { type: 'string' },
    overwrite: { type: 'boolean' },
    format: { type: 'string' },
  });
  const format = values.format ?? 'trl';
  if (format !== 'trl' && format !== 'openai') throw new UsageError(`--format must be trl or openai (got "${format}")`);
  const sources = [values.scores !== undefined, values['rejected-candidates'] !== undefined, values.degrade === true];
  if (sources.filter(Boolean).length !== 1)
    throw new UsageError(
      "give one of --scores (a judge), --rejected-candidates or --degrade (synthetic pairs): where each pair's verdict comes from",
    );
  if (!values.out) throw new UsageError('--out is required: the folder to write pairs.jsonl to');
  const candidates = readInputFile('candidates', values.candidates, 'the candidates JSONL `pnpm cli candidates` wrote');
  const scores =
    values.scores === undefined ? null : readInputFile('scores', values.scores, 'one line per prompt: {"id", "scores": [...]}');
  const rejected =
    values['rejected-candidates'] === undefined
      ? null
      : readInputFile('rejected-candidates', values['rejected-candidates'], 'a candidates JSONL of the same prompts');
  const out = OutputFolder.check(values.out, 'out', [
    { flag: 'candidates', path: values.candidates },
    { flag: 'scores', path: values.scores },
    { flag: 'rejected-candidates', path: values['rejected-candidates'] },
  ]).requireEmptyOr(values.overwrite === true);
  const sets = checked(() => readCandidates(candidates.text, candidates.file));
  let pairs: PreferencePair[];
  let counts: Record<string, number | boolean>;
  let dropped: string;
  if (scores) {
    const made = checked(() => pairsFromScores(sets, readScores(scores.text, scores.file), scores.file));
    pairs = made.pairs;
    counts = { tied: made.tied.length, unscored: made.unscored.length };
    dropped = `${made.tied.length} tied and dropped${list(made.tied)}; ${made.unscored.length} unscored${list(made.unscored)}`;
  } else {
    const made = checked(() => (rejected ? syntheticPairs(sets, readCandidates(rejected.text, rejected.file)) : degradedPairs(sets)));
    pairs = made.pairs;
    counts = { synthetic: true, same: made.same.length, missing: made.missing.length };
    dropped = `${made.same.length} with the same text on both sides, dropped${list(made.same)}; ${made.missing.length} missing from the rejected candidates${list(made.missing)}`;
  }
  const { data, provenance } = checked(() => writePairs(pairs));
  const path = out.add('pairs.jsonl', format === 'trl' ? data : convertPreferences(data, 'pairs.jsonl', 'openai').text);
  out.add('pairs.provenance.jsonl', provenance);
  out.commit();
  process.stdout.write(`${JSON.stringify({ pairs: pairs.length, prompts: sets.length, ...counts, out: path })}\n`);
  process.stderr.write(`wrote ${path}: ${pairs.length} ${scores ? '' : 'synthetic '}pairs from ${sets.length} prompts; ${dropped}\n`);
  return 0;
}

const list = (ids: string[]) => (ids.length > 0 ? `: ${ids.join(', ')}` : '');
