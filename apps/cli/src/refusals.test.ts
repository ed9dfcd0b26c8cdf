// The command line's refusals of bad flags, folders and files, checked here in Node, in process: each is a UsageError
// that the command throws before Chromium starts, which main.ts prints as one line (oneLine) with exit code 2. The
// command line itself, one refusal per command (exactly that line on stderr, nothing on stdout, exit 2), is
// test/cli-errors.test.ts's (train, eval, generate) and test/cli-pairs.test.ts's (candidates, pairs, ab); what only the
// trainer in the page can refuse is test/cli-errors.test.ts's too.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { oneLine, UsageError } from './args.ts';

const COMMANDS = {
  train: () => import('./commands/train.ts'),
  eval: () => import('./commands/eval.ts'),
  generate: () => import('./commands/generate.ts'),
  candidates: () => import('./commands/candidates.ts'),
  pairs: () => import('./commands/pairs.ts'),
  ab: () => import('./commands/ab.ts'),
  export: () => import('./commands/export.ts'),
  classroom: () => import('./commands/classroom.ts'),
};
const REPO = join(import.meta.dirname, '..', '..', '..');
const LLAMA = join(REPO, 'packages', 'trainer', 'test', 'fixtures', 'llama-gqa-bf16');
/** The demo model, as test/cli-pairs.test.ts's loop uses it. */
const MODEL = join(REPO, 'apps', 'studio', 'public', 'demo', 'model');

const temp = mkdtempSync(join(tmpdir(), 'webtune-refusals-'));
const path = (...parts: string[]) => join(temp, ...parts);
const jsonl = (name: string, rows: object[]) => {
  writeFileSync(path(name), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path(name);
};
const sft = jsonl('sft.jsonl', [
  { prompt: 'Hello', completion: ' world' },
  { prompt: 'The cat', completion: ' sat on the mat' },
]);
const dpo = jsonl('dpo.jsonl', [
  { prompt: 'Hello', chosen: ' world', rejected: ' moon' },
  { prompt: 'The cat', chosen: ' sat', rejected: ' ran away' },
]);
const out = path('out');
// Line 2 holds "café" as Latin-1 writes it (0xE9): not UTF-8.
const latin1 = path('latin1.jsonl');
writeFileSync(
  latin1,
  Buffer.concat([
    Buffer.from('{"prompt":"Hello","completion":" world"}\n{"prompt":"caf'),
    Buffer.from([0xe9]),
    Buffer.from('","completion":" x"}\n'),
  ]),
);
// A folder with a tokenizer but no config.json; a folder with no adapter files.
const notAModel = path('not-a-model');
mkdirSync(notAModel);
writeFileSync(join(notAModel, 'tokenizer.json'), '{}');
const emptyAdapter = path('empty-adapter');
mkdirSync(emptyAdapter);
// What `candidates`, `pairs` and `ab` read: prompts, candidates, and an A/B run folder.
const promptsFile = jsonl('prompts.jsonl', [{ prompt: 'Describe a fox.' }, { prompt: 'Describe an owl.' }]);
const cands = jsonl('cands.jsonl', [{ id: 'p1', prompt: 'Q', candidates: ['a', 'b'] }]);
const abRun = path('ab-run');
mkdirSync(abRun);
const notAbRun = path('not-ab-run');
mkdirSync(notAbRun);
writeFileSync(join(notAbRun, 'ab-run.json'), '{}');
/** `train --method sft` on the fixture model and data, into `out`, with `extra` flags. */
const trainSft = (...extra: string[]) => ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, ...extra];
/** `ab`'s first step, without the two models. */
const abAnswers = ['ab', '--model', MODEL, '--prompts', promptsFile, '--out', out];
const SHIPPED_SFT = join(REPO, 'apps', 'studio', 'public', 'demo', 'adapters', 'quick', 'sft');
// An adapter folder as another tool writes it (no training_config.json), and one whose training_config.json is broken.
const adapterWith = (name: string, trainingConfig?: string) => {
  mkdirSync(path(name));
  writeFileSync(path(name, 'adapter_config.json'), '{}');
  writeFileSync(path(name, 'adapter_model.safetensors'), '');
  if (trainingConfig !== undefined) writeFileSync(path(name, 'training_config.json'), trainingConfig);
  return path(name);
};
const otherToolAdapter = adapterWith('other-tool-adapter');
const brokenRunAdapter = adapterWith('broken-run-adapter', '{oops');
const ppoAdapter = adapterWith('ppo-adapter', '{"trainer": "PPOTrainer"}');
writeFileSync(
  join(abRun, 'ab-run.json'),
  JSON.stringify({ models: { first: 'x', second: 'y' }, rows: [{ id: 'p1', prompt: 'Q', first: 'a', second: 'b', firstIs: 'A' }] }),
);
// A folder of the user's own, given as --out by mistake: refused, and its file kept.
const kept = path('kept');
mkdirSync(kept);
writeFileSync(join(kept, 'notes.txt'), 'mine');
const holdsKept = `--out ${kept} already holds notes.txt: give --overwrite to replace it, or another folder`;
const replaces = 'writing replaces the folder whole; give';
// 300 MiB, sparse (no disk used): past the 256 MiB a dataset may hold, refused by its size before it is read.
const huge = path('huge.jsonl');
writeFileSync(huge, '');
truncateSync(huge, 300 * 1024 * 1024);

// A command that failed to refuse would go on to start the browser: let it fail at once instead.
const browser = process.env.WEBTUNE_CHROMIUM;
beforeAll(() => {
  process.env.WEBTUNE_CHROMIUM = path('no-browser-here');
});
afterAll(() => {
  if (browser === undefined) delete process.env.WEBTUNE_CHROMIUM;
  else process.env.WEBTUNE_CHROMIUM = browser;
  rmSync(temp, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('refused before the browser starts (a UsageError: one line, exit 2)', () => {
  const cases: { name: string; args: string[]; expect: (RegExp | string)[] }[] = [
    {
      name: 'a model folder that does not exist',
      args: ['train', '--method', 'sft', '--model', path('no-such-model'), '--data', sft, '--out', out],
      expect: [`--model ${path('no-such-model')}: no such folder, and not a Hub id`],
    },
    {
      name: 'a folder without config.json',
      args: ['train', '--method', 'sft', '--model', notAModel, '--data', sft, '--out', out],
      expect: ['has no config.json', 'Hugging Face model folder'],
    },
    {
      name: '--model given a file',
      args: ['train', '--method', 'sft', '--model', join(LLAMA, 'config.json'), '--data', sft, '--out', out],
      expect: ['is a file; give the folder that holds config.json'],
    },
    {
      name: 'missing --data',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--out', out],
      expect: ['--data is required'],
    },
    {
      name: 'a data file that does not exist',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', path('nope.jsonl'), '--out', out],
      expect: [`--data ${path('nope.jsonl')}: no such file`],
    },
    {
      name: 'an --eval-data file that does not exist',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--eval-data', path('nope.jsonl'), '--out', out],
      expect: [`--eval-data ${path('nope.jsonl')}: no such file`],
    },
    {
      name: '--eval-strategy with no rows to evaluate',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--eval-strategy', 'steps', '--out', out],
      expect: ['eval_strategy "steps" needs rows to evaluate: hold out part of sft.jsonl with val_size (e.g. 0.1), or give an eval file.'],
    },
    {
      name: '--val-size and --eval-data together',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--val-size', '0.5', '--eval-data', sft, '--out', out],
      expect: ['val_size 0.5 holds out rows of sft.jsonl for evaluation, and sft.jsonl was given as the eval file too: use one of them.'],
    },
    {
      name: '--load-best-model-at-end with no evaluations',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--val-size', '1', '--load-best-model-at-end', '--out', out],
      expect: ['--load-best-model-at-end (load_best_model_at_end) needs evaluations to choose from: set --eval-strategy steps or epoch'],
    },
    {
      name: 'missing --method',
      args: ['train', '--model', LLAMA, '--data', sft, '--out', out],
      expect: ['--method must be sft, dpo, kto, orpo or simpo'],
    },
    {
      name: 'an unknown --method',
      args: ['train', '--method', 'ppo', '--model', LLAMA, '--data', sft, '--out', out],
      expect: ['--method must be sft, dpo, kto, orpo or simpo (got "ppo")'],
    },
    {
      name: 'missing --out',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft],
      expect: ['--out is required'],
    },
    {
      name: '--out naming a file',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', sft],
      expect: ['--out', 'is a file'],
    },
    {
      name: 'an unknown flag',
      args: trainSft('--lerning-rate', '1e-4'),
      expect: ['unknown option --lerning-rate: did you mean --learning-rate? (see `pnpm cli train --help`)'],
    },
    {
      name: "an unknown flag by TRL's name",
      args: trainSft('--per_device_train_batch_size', '4'),
      expect: ['unknown option --per_device_train_batch_size: did you mean --batch-size?'],
    },
    {
      name: 'an unknown flag like no other',
      args: trainSft('--flux-capacitor', '1'),
      expect: ['unknown option --flux-capacitor (see `pnpm cli train --help`)'],
    },
    {
      name: 'a data file that is not UTF-8 (Latin-1)',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', latin1, '--out', out],
      expect: [`--data ${latin1} line 2 is not valid UTF-8 (near byte`, 'save the file as UTF-8'],
    },
    {
      name: 'a data file too large to read as one string',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', huge, '--out', out],
      expect: [`${huge} is 300 MiB, more than the 256 MiB a dataset may hold: split it, or sample the rows to train on`],
    },
    {
      name: 'a flag given twice',
      args: trainSft('--max-steps', '3', '--max-steps', '5'),
      expect: ['--max-steps is given 2 times (3, 5): give it once'],
    },
    {
      name: 'a learning rate of 0',
      args: trainSft('--learning-rate', '0'),
      expect: ['--learning-rate (learning_rate) is 0'],
    },
    {
      name: "label smoothing with DPO (train): TRL's DPO losses have none",
      args: ['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--label-smoothing', '0.1'],
      expect: ['--label-smoothing is a --method simpo setting, ignored by --method dpo: remove it'],
    },
    {
      name: 'label smoothing with DPO (eval)',
      args: ['eval', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--loss-type', 'hinge', '--label-smoothing', '0.1', '--json'],
      expect: ['--label-smoothing is a --method simpo setting, ignored by --method dpo: remove it'],
    },
    {
      name: '--resume with --runtime dawn (its checkpoints end with the command)',
      args: trainSft('--resume', '--runtime', 'dawn'),
      expect: [
        '--resume goes on from a checkpoint in the browser profile: with --runtime dawn checkpoints end with the command; resume with --runtime browser',
      ],
    },
    {
      name: 'an unknown --runtime',
      args: ['generate', '--model', LLAMA, '--prompt', 'Hi', '--runtime', 'node'],
      expect: ['--runtime must be browser or dawn (got "node")'],
    },
    {
      name: '--overwrite with --resume',
      args: trainSft('--overwrite', '--resume'),
      expect: ['--overwrite starts over and --resume goes on: give one of them'],
    },
    {
      name: '--learning-rate abc',
      args: trainSft('--learning-rate', 'abc'),
      expect: ['--learning-rate must be a number', '"abc"'],
    },
    {
      name: '--lora-r 0',
      args: trainSft('--lora-r', '0'),
      expect: ['--lora-r', 'must be between 1 and', 'got 0'],
    },
    {
      name: '--lr-scheduler-type foo',
      args: trainSft('--lr-scheduler-type', 'foo'),
      expect: ['--lr-scheduler-type', 'linear, cosine', '"foo"'],
    },
    {
      name: '--target-modules foo_proj',
      args: trainSft('--target-modules', 'q_proj,foo_proj'),
      expect: ['--target-modules', 'unknown module foo_proj', 'q_proj, k_proj'],
    },
    {
      name: '--use-rslora given a value (it is a bare flag)',
      args: trainSft('--use-rslora=yes'),
      expect: ["Option '--use-rslora' does not take an argument", 'pnpm cli train --help'],
    },
    {
      name: 'train: --beta with --method sft',
      args: trainSft('--beta', '0.2'),
      expect: ['--beta is a --method dpo|kto|orpo|simpo setting, ignored by --method sft: remove it'],
    },
    {
      name: 'train: --loss-type and --label-smoothing with --method sft',
      args: trainSft('--loss-type', 'ipo', '--label-smoothing', '0.1'),
      expect: [
        '--loss-type is a --method dpo|kto setting; --label-smoothing is a --method simpo setting, ignored by --method sft: remove them',
      ],
    },
    {
      name: 'eval: --beta with --method sft',
      args: ['eval', '--method', 'sft', '--model', LLAMA, '--data', sft, '--beta', '0.2', '--json'],
      expect: ['--beta is a --method dpo|kto|orpo|simpo setting, ignored by --method sft: remove it'],
    },
    {
      name: 'train: a KTO weight with --method dpo',
      args: ['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--desirable-weight', '2'],
      expect: ['--desirable-weight is a --method kto setting, ignored by --method dpo: remove it'],
    },
    {
      name: "train: SimPO's settings with --method orpo",
      args: ['train', '--method', 'orpo', '--model', LLAMA, '--data', dpo, '--out', out, '--simpo-gamma', '1', '--cpo-alpha', '0.5'],
      expect: ['--simpo-gamma, --cpo-alpha are --method simpo settings, ignored by --method orpo: remove them'],
    },
    {
      name: 'train: --loss-type with --method simpo (its loss is fixed)',
      args: ['train', '--method', 'simpo', '--model', LLAMA, '--data', dpo, '--out', out, '--loss-type', 'sigmoid'],
      expect: ['--loss-type is a --method dpo|kto setting, ignored by --method simpo: remove it'],
    },
    {
      name: 'train: a DPO loss type for KTO',
      args: ['train', '--method', 'kto', '--model', LLAMA, '--data', dpo, '--out', out, '--loss-type', 'ipo'],
      expect: ['--loss-type (loss_type) of --method kto must be one of kto, apo_zero_unpaired; got "ipo"'],
    },
    {
      name: 'train: KTO with a batch of one row',
      args: ['train', '--method', 'kto', '--model', LLAMA, '--data', dpo, '--out', out, '--batch-size', '1'],
      expect: ['--batch-size (per_device_train_batch_size) must be at least 2 for KTO'],
    },
    {
      name: 'eval: a KTO weight with --method orpo',
      args: ['eval', '--method', 'orpo', '--model', LLAMA, '--data', dpo, '--undesirable-weight', '0.5', '--json'],
      expect: ['--undesirable-weight is a --method kto setting, ignored by --method orpo: remove it'],
    },
    {
      name: 'eval: a negative --simpo-gamma',
      args: ['eval', '--method', 'simpo', '--model', LLAMA, '--data', dpo, '--simpo-gamma=-1', '--json'],
      expect: ['--simpo-gamma (simpo_gamma) must be between 0 and 1000, got -1'],
    },
    {
      name: 'eval: KTO with a batch of one row',
      args: ['eval', '--method', 'kto', '--model', LLAMA, '--data', dpo, '--batch-size', '1', '--json'],
      expect: ['--batch-size (per_device_train_batch_size) must be at least 2 for KTO'],
    },
    {
      name: 'an --adapter folder without adapter_config.json',
      args: ['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--adapter', emptyAdapter],
      expect: [`--adapter ${emptyAdapter} has no adapter_config.json`],
    },
    {
      name: 'an --adapter that does not exist',
      args: ['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--adapter', path('gone')],
      expect: [`--adapter ${path('gone')} is not a folder`],
    },
    {
      name: 'eval: --ref-adapter without adapter_config.json',
      args: ['eval', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--ref-adapter', emptyAdapter, '--json'],
      expect: ['--ref-adapter', 'has no adapter_config.json'],
    },
    {
      name: 'eval: --batch-size 0',
      args: ['eval', '--method', 'sft', '--model', LLAMA, '--data', sft, '--batch-size', '0', '--json'],
      expect: ['--batch-size must be at least 1 (got 0)'],
    },
    {
      name: '--memory-budget-gib abc',
      args: trainSft('--memory-budget-gib', 'abc'),
      expect: ['--memory-budget-gib must be a number (got "abc")'],
    },
    {
      name: 'generate: --max-new-tokens abc',
      args: ['generate', '--model', LLAMA, '--prompt', 'Hi', '--max-new-tokens', 'abc'],
      expect: ['--max-new-tokens must be a number'],
    },
    {
      name: 'greedy candidates',
      args: ['candidates', '--model', MODEL, '--prompts', promptsFile, '--out', out, '--temperature', '0'],
      expect: ['--temperature 0 is greedy: every candidate of a prompt would be the same answer.'],
    },
    {
      name: 'no prompts file',
      args: ['candidates', '--model', MODEL, '--prompts', path('nope.jsonl'), '--out', out],
      expect: [`--prompts ${path('nope.jsonl')}: no such file`],
    },
    {
      name: 'a bad prompts line',
      args: ['candidates', '--model', MODEL, '--prompts', jsonl('bad-prompts.jsonl', [{ prompt: 'ok' }, { text: 'x' }]), '--out', out],
      expect: ['bad-prompts.jsonl line 2: no prompt: expected a "prompt" or "messages" field.'],
    },
    {
      name: 'scores for an unknown id',
      args: ['pairs', '--candidates', cands, '--scores', jsonl('s1.jsonl', [{ id: 'p9', scores: [1, 2] }]), '--out', out],
      expect: ['s1.jsonl line 1: id "p9" is not in the candidates file'],
    },
    {
      name: 'a score per candidate missing',
      args: ['pairs', '--candidates', cands, '--scores', jsonl('s2.jsonl', [{ id: 'p1', scores: [1] }]), '--out', out],
      expect: ['s2.jsonl line 1: 1 scores for "p1", which has 2 candidates: give one score per candidate, in order'],
    },
    {
      name: 'nothing but ties',
      args: ['pairs', '--candidates', cands, '--scores', jsonl('s3.jsonl', [{ id: 'p1', scores: [1, 1] }]), '--out', out],
      expect: ['no pairs to save: judge or score at least one prompt with a better and a worse answer'],
    },
    {
      name: 'the same model twice',
      args: [...abAnswers, '--first', 'base', '--second', 'base'],
      expect: ['--first and --second are the same model: compare two different ones'],
    },
    {
      name: 'export trl-run: an adapter with no training_config.json',
      args: ['export', '--format', 'trl-run', '--model', LLAMA, '--adapter', otherToolAdapter, '--data', sft, '--out', out],
      expect: [`--adapter ${otherToolAdapter} has no training_config.json: trl-run repeats the run it records (train writes one)`],
    },
    {
      name: 'export trl-run: a training_config.json that is not JSON',
      args: ['export', '--format', 'trl-run', '--model', LLAMA, '--adapter', brokenRunAdapter, '--data', sft, '--out', out],
      expect: [`--adapter ${brokenRunAdapter}/training_config.json is not valid JSON (`, '): give the folder train wrote, as it wrote it'],
    },
    {
      name: 'export trl-run: a training_config.json of another trainer',
      args: ['export', '--format', 'trl-run', '--model', LLAMA, '--adapter', ppoAdapter, '--data', sft, '--out', out],
      expect: [`--adapter ${ppoAdapter}/training_config.json: trainer "PPOTrainer" is not one webtune trains with; give one of SFTTrainer`],
    },
    {
      name: 'export: --data with a format other than trl-run',
      args: ['export', '--format', 'peft', '--model', LLAMA, '--adapter', SHIPPED_SFT, '--data', sft, '--out', out],
      expect: ['--data is for --format trl-run (the dataset written into the run folder)'],
    },
    {
      name: 'export: a flag the format would ignore',
      args: ['export', '--format', 'peft', '--model', LLAMA, '--adapter', SHIPPED_SFT, '--dtype', 'bf16', '--out', out],
      expect: ['--dtype is for --format merged, gguf, gguf-lora, ollama; --format peft would ignore it: leave it out'],
    },
    {
      name: 'export: --max-shard-size outside merged',
      args: ['export', '--format', 'gguf', '--model', LLAMA, '--max-shard-size', '2GB', '--out', out],
      expect: ['--max-shard-size is for --format merged; --format gguf would ignore it: leave it out'],
    },
    {
      name: 'export: --unstacked outside peft',
      args: ['export', '--format', 'merged', '--model', LLAMA, '--adapter', SHIPPED_SFT, '--unstacked', '--out', out],
      expect: ['--unstacked is for --format peft; --format merged would ignore it: leave it out'],
    },
    {
      name: 'candidates: an --out that holds files',
      args: ['candidates', '--model', MODEL, '--prompts', promptsFile, '--out', kept],
      expect: [holdsKept],
    },
    {
      name: 'pairs: an --out that holds files',
      args: ['pairs', '--candidates', cands, '--degrade', '--out', kept],
      expect: [holdsKept],
    },
    {
      name: 'ab: an --out that holds files',
      args: ['ab', '--model', MODEL, '--prompts', promptsFile, '--out', kept, '--first', 'base', '--second', SHIPPED_SFT],
      expect: [holdsKept],
    },
    {
      name: 'classroom: an --out that holds files',
      args: ['classroom', '--out', kept],
      expect: [holdsKept],
    },
    {
      name: 'classroom: --ship into a folder that is not an earlier shipping',
      args: ['classroom', '--preset', 'quick', '--ship', kept],
      expect: [`--ship ${kept} already holds notes.txt: give --overwrite to replace it, or another folder`],
    },
    {
      name: 'ab step 2: --out is the --run folder it reads (even with --overwrite)',
      args: ['ab', '--run', abRun, '--verdicts', jsonl('v-ok.jsonl', [{ id: 'p1', verdict: 'A' }]), '--out', abRun, '--overwrite'],
      expect: [`--out ${abRun} is --run ${abRun}, which this command reads: ${replaces} another folder for the output`],
    },
    {
      name: 'pairs: an --out that holds its --candidates file',
      args: ['pairs', '--candidates', cands, '--degrade', '--out', temp, '--overwrite'],
      expect: [`--out ${temp} holds --candidates ${cands}, which this command reads: ${replaces} another folder for the output`],
    },
    {
      name: '--out . (the folder the command runs in)',
      args: ['pairs', '--candidates', cands, '--degrade', '--out', '.', '--overwrite'],
      expect: [`--out . is the folder you are in: ${replaces} a new folder for the output`],
    },
    {
      name: '--out above the folder the command runs in',
      args: ['export', '--format', 'gguf', '--model', LLAMA, '--out', '..', '--overwrite'],
      expect: [`--out .. holds the folder you are in (${process.cwd()}): ${replaces} a new folder for the output`],
    },
    {
      name: '--out the root folder',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', '/'],
      expect: [`--out / is the root folder: ${replaces} a new folder for the output`],
    },
    {
      name: 'a Hub id with two revisions',
      args: ['train', '--method', 'sft', '--model', 'Qwen/Qwen2.5-0.5B@main@x', '--data', sft, '--out', out],
      expect: ['--model Qwen/Qwen2.5-0.5B@main@x: a Hub id takes one revision after a single @ (owner/name@main, @v1.0 or a commit hash)'],
    },
    {
      name: 'train: --eval-steps without --eval-strategy steps',
      args: trainSft('--eval-steps', '5'),
      expect: ['--eval-steps sets the steps between evaluations of --eval-strategy steps; with --eval-strategy no it would be ignored'],
    },
    {
      name: "ab step 2 given step 1's flags",
      args: ['ab', '--run', abRun, '--verdicts', cands, '--temperature', '0.7', '--first', 'base'],
      expect: ['--first, --temperature are for step 1 (the answers); step 2 (--run) only scores them: leave them out'],
    },
    {
      name: "ab step 1 given step 2's --ties",
      args: [...abAnswers, '--first', 'base', '--second', SHIPPED_SFT, '--ties', 'excluded'],
      expect: ['--ties goes with --run <the folder step 1 wrote> (step 2)'],
    },
    {
      name: "eval: SFT's loss mask with another method",
      args: ['eval', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--completion-only-loss', 'false'],
      expect: ['--completion-only-loss is a --method sft setting, ignored by --method dpo: remove it'],
    },
    {
      name: 'two models under one name',
      args: [...abAnswers, '--first', 'base', '--second', SHIPPED_SFT, '--first-name', 'x', '--second-name', 'x'],
      expect: ['both models are named "x": give --first-name and --second-name'],
    },
    {
      name: 'a run file that is not an A/B run',
      args: ['ab', '--run', notAbRun, '--verdicts', cands],
      expect: [`--run ${notAbRun}: ab-run.json is not an A/B run file (no "rows" list and "models" names); run step 1 again`],
    },
    {
      name: 'a run folder without its run',
      args: ['ab', '--run', path('no-run'), '--verdicts', cands],
      expect: [`--run ${path('no-run')} has no ab-run.json`],
    },
    {
      name: 'a bad verdict',
      args: ['ab', '--run', abRun, '--verdicts', jsonl('v.jsonl', [{ id: 'p1', verdict: 'left' }])],
      expect: ['v.jsonl line 1: each line must be {"id": "<prompt id>", "verdict": "A" | "B" | "tie"} (got "left")'],
    },
  ];

  it.each(cases)('$name', async (c) => {
    const [command, ...argv] = c.args;
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write');
    const { run } = await COMMANDS[command as keyof typeof COMMANDS]();
    const err = await run(argv).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, `${c.args.join(' ')}: ${err}`).toBeInstanceOf(UsageError);
    const message = oneLine((err as Error).message);
    for (const p of c.expect) {
      if (typeof p === 'string') expect(message).toContain(p);
      else expect(message).toMatch(p);
    }
    // Nothing else was said, and nothing written: the refusal is all the user sees.
    expect(stdout).not.toHaveBeenCalled();
    expect(stderr).not.toHaveBeenCalled();
    expect(existsSync(out)).toBe(false);
  });

  it('a refused --out keeps what it held', () => {
    expect(readFileSync(join(kept, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(abRun, 'ab-run.json'))).toBe(true);
    expect(existsSync(cands)).toBe(true);
  });
});
