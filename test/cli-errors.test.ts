// Bad input to the CLI, as a user gets it wrong: every rejection exits non-zero with ONE line on stderr that names
// the problem. What Node can check (flags, folders, files) fails before Chromium starts, with nothing else on stderr
// and exit code 2; what only the trainer can judge (the checkpoint's contents, the rows, an adapter's shapes) fails in
// the page and comes back as one line too, exit code 1, after the progress lines.
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DPO_ROWS, expectRejection, expectUsageError, LLAMA, QWEN, SFT_ROWS, workspace } from './support/workspace.ts';

const ws = workspace();
const sft = ws.jsonl('sft.jsonl', SFT_ROWS);
const dpo = ws.jsonl('dpo.jsonl', DPO_ROWS);
const out = ws.path('out');
// A folder with a tokenizer but no config.json; a folder with no adapter files.
const notAModel = ws.path('not-a-model');
mkdirSync(notAModel);
writeFileSync(join(notAModel, 'tokenizer.json'), '{}');
const emptyAdapter = ws.path('empty-adapter');
mkdirSync(emptyAdapter);
afterAll(() => ws.remove());

const tiny = ['--max-steps', '1', '--max-length', '32', '--batch-size', '2'];

describe('rejected before the browser starts (exit 2, one line)', () => {
  const cases: { name: string; args: string[]; command?: string; expect: (RegExp | string)[] }[] = [
    {
      name: 'missing --model',
      args: ['train', '--method', 'sft', '--data', sft, '--out', out],
      expect: ['--model is required', 'Hub id'],
    },
    {
      name: 'a model folder that does not exist',
      args: ['train', '--method', 'sft', '--model', ws.path('no-such-model'), '--data', sft, '--out', out],
      expect: [`--model ${ws.path('no-such-model')}: no such folder, and not a Hub id`],
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
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', ws.path('nope.jsonl'), '--out', out],
      expect: [`--data ${ws.path('nope.jsonl')}: no such file`],
    },
    {
      name: 'missing --method',
      args: ['train', '--model', LLAMA, '--data', sft, '--out', out],
      expect: ['--method must be sft or dpo'],
    },
    {
      name: 'an unknown --method',
      args: ['train', '--method', 'ppo', '--model', LLAMA, '--data', sft, '--out', out],
      expect: ['--method must be sft or dpo (got "ppo")'],
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
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--lerning-rate', '1e-4'],
      expect: ["Unknown option '--lerning-rate'", 'pnpm cli train --help'],
    },
    {
      name: '--learning-rate abc',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--learning-rate', 'abc'],
      expect: ['--learning-rate must be a number', '"abc"'],
    },
    {
      name: '--lora-r 0',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--lora-r', '0'],
      expect: ['--lora-r', 'must be between 1 and', 'got 0'],
    },
    {
      name: '--lr-scheduler-type foo',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--lr-scheduler-type', 'foo'],
      expect: ['--lr-scheduler-type', 'linear, cosine', '"foo"'],
    },
    {
      name: '--target-modules foo_proj',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--target-modules', 'q_proj,foo_proj'],
      expect: ['--target-modules', 'unknown module foo_proj', 'q_proj, k_proj'],
    },
    {
      name: '--use-rslora given a value (it is a bare flag)',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--use-rslora=yes'],
      expect: ["Option '--use-rslora' does not take an argument", 'pnpm cli train --help'],
    },
    {
      name: 'train: --beta with --method sft',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--beta', '0.2'],
      expect: ['--beta is a --method dpo setting, ignored by --method sft: remove it'],
    },
    {
      name: 'train: --loss-type and --label-smoothing with --method sft',
      args: ['train', '--method', 'sft', '--model', LLAMA, '--data', sft, '--out', out, '--loss-type', 'ipo', '--label-smoothing', '0.1'],
      expect: ['--loss-type, --label-smoothing are --method dpo settings, ignored by --method sft: remove them'],
    },
    {
      name: 'eval: --beta with --method sft',
      command: 'eval',
      args: ['eval', '--method', 'sft', '--model', LLAMA, '--data', sft, '--beta', '0.2', '--json'],
      expect: ['--beta is a --method dpo setting, ignored by --method sft: remove it'],
    },
    {
      name: 'an --adapter folder without adapter_config.json',
      args: ['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--adapter', emptyAdapter],
      expect: [`--adapter ${emptyAdapter} has no adapter_config.json`],
    },
    {
      name: 'an --adapter that does not exist',
      args: ['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--adapter', ws.path('gone')],
      expect: [`--adapter ${ws.path('gone')} is not a folder`],
    },
    {
      name: 'eval: --ref-adapter without adapter_config.json',
      command: 'eval',
      args: ['eval', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--ref-adapter', emptyAdapter, '--json'],
      expect: ['--ref-adapter', 'has no adapter_config.json'],
    },
    {
      name: 'eval: --batch-size 0',
      command: 'eval',
      args: ['eval', '--method', 'sft', '--model', LLAMA, '--data', sft, '--batch-size', '0', '--json'],
      expect: ['--batch-size must be between 1 and'],
    },
    {
      name: 'generate: missing --prompt',
      command: 'generate',
      args: ['generate', '--model', LLAMA],
      expect: ['--prompt is required'],
    },
    {
      name: 'generate: --max-new-tokens abc',
      command: 'generate',
      args: ['generate', '--model', LLAMA, '--prompt', 'Hi', '--max-new-tokens', 'abc'],
      expect: ['--max-new-tokens must be a number'],
    },
  ];

  // No browser is involved: these may run side by side.
  it.concurrent.each(cases)('$name', async (c) => {
    const r = await ws.run(c.args);
    expectUsageError(r, c.command ?? 'train', ...c.expect);
  });
});

describe('rejected by the trainer in the page (exit 1, one line)', () => {
  it('a config.json with an unknown architecture', async () => {
    const model = ws.copyModel(LLAMA, 'gpt-neox');
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox' }));
    const r = await ws.run(['train', '--method', 'sft', '--model', model, '--data', sft, '--out', out, ...tiny]);
    expectRejection(r, 'train', 1, 'GPTNeoXForCausalLM', 'not supported', 'LlamaForCausalLM');
  });

  it('a config.json that is not JSON', async () => {
    const model = ws.copyModel(LLAMA, 'bad-json');
    writeFileSync(join(model, 'config.json'), '{"architectures": ["LlamaForCausalLM"], ');
    const r = await ws.run(['train', '--method', 'sft', '--model', model, '--data', sft, '--out', out, ...tiny]);
    // The file is named by the path the user gave, not by the loopback URL the page fetched it from.
    expectRejection(r, 'train', 1, `${join(model, 'config.json')} is unusable`, /not valid JSON/);
  });

  it('a truncated model.safetensors', async () => {
    const model = ws.copyModel(LLAMA, 'truncated');
    truncateSync(join(model, 'model.safetensors'), 100_000);
    const r = await ws.run(['train', '--method', 'sft', '--model', model, '--data', sft, '--out', out, ...tiny]);
    expectRejection(r, 'train', 1, `${join(model, 'model.safetensors')} is unusable`, /truncated/);
  });

  it('a data file with no valid rows names each line and its reason', async () => {
    const bad = ws.jsonl('bad.jsonl', ['{"prompt": 1, "completion": "x"}', 'not json', { text: '' }]);
    const r = await ws.run(['train', '--method', 'sft', '--model', LLAMA, '--data', bad, '--out', out, ...tiny]);
    expectRejection(r, 'train', 1, 'bad.jsonl', 'no valid SFT rows', 'line 1', 'line 2', 'invalid JSON', 'line 3', 'empty');
  });

  it('an adapter trained for a different model (wrong shapes)', async () => {
    const adapter = join(QWEN, 'adapter');
    const r = await ws.run(['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--adapter', adapter, ...tiny]);
    const message = expectRejection(r, 'train', 1, `--adapter ${adapter}`, 'trained on qwen2-bias-f16', 'does not match this model');
    expect(message).toMatch(/lora_A\.weight is \[\d+,\d+\], expected \[\d+,\d+\]/);
  });
});
