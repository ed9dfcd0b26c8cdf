// `pnpm cli pairs`: candidates + a judge's scores -> DPO pairs (best vs worst candidate per prompt; a prompt whose
// candidates all score the same is dropped and counted), as TRL's preference JSONL with a provenance sidecar.
import { convertPreferences, pairsFromScores, readCandidates, readScores, writePairs } from '@webtune/trainer';
import { parseCommandArgs, UsageError } from '../args.ts';
import { OutputFolder } from '../out-dir.ts';
import { checked, readInputFile } from './pairs-files.ts';

export const help = `pnpm cli pairs --candidates <candidates.jsonl> --scores <scores.jsonl> --out <dir> [--format trl|openai]

Writes <out>/pairs.jsonl (TRL's prompt/chosen/rejected, conversational when the prompts were: train it with
\`pnpm cli train --method dpo --data <out>/pairs.jsonl\`) and <out>/pairs.provenance.jsonl, whose line n says where
pair n came from (model, adapter, sampling, seeds, the scores). Prints what was made, dropped and left unscored.

  --candidates <file>    written by \`pnpm cli candidates\`
  --scores <file>        one line per prompt: {"id": "<candidates id>", "scores": [<a number per candidate, higher is better>]}
  --format trl|openai    openai: OpenAI's and Together's rows (input.messages, preferred_output, non_preferred_output)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('pairs', argv, {
    candidates: { type: 'string' },
    scores: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
  });
  const format = values.format ?? 'trl';
  if (format !== 'trl' && format !== 'openai') throw new UsageError(`--format must be trl or openai (got "${format}")`);
  if (!values.out) throw new UsageError('--out is required: the folder to write pairs.jsonl to');
  const candidates = readInputFile('candidates', values.candidates, 'the candidates JSONL `pnpm cli candidates` wrote');
  const scores = readInputFile('scores', values.scores, 'one line per prompt: {"id", "scores": [...]}');
  const out = OutputFolder.check(values.out);
  const sets = checked(() => readCandidates(candidates.text, candidates.file));
  const made = checked(() => pairsFromScores(sets, readScores(scores.text, scores.file), scores.file));
  const { data, provenance } = checked(() => writePairs(made.pairs));
  const path = out.add('pairs.jsonl', format === 'trl' ? data : convertPreferences(data, 'pairs.jsonl', 'openai').text);
  out.add('pairs.provenance.jsonl', provenance);
  out.commit();
  const list = (ids: string[]) => (ids.length > 0 ? `: ${ids.join(', ')}` : '');
  process.stdout.write(
    `${JSON.stringify({ pairs: made.pairs.length, prompts: sets.length, tied: made.tied.length, unscored: made.unscored.length, out: path })}\n`,
  );
  process.stderr.write(
    `wrote ${path}: ${made.pairs.length} pairs from ${sets.length} prompts; ${made.tied.length} tied and dropped${list(made.tied)}; ${made.unscored.length} unscored${list(made.unscored)}\n`,
  );
  return 0;
}
