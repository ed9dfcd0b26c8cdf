// Bad input to the CLI, as a user gets it wrong: every rejection exits non-zero with ONE line on stderr that names
// the problem. What Node can check (flags, folders, files) fails before Chromium starts, with nothing else on stderr
// and exit code 2; what only the trainer can judge (the checkpoint's contents, the rows, an adapter's shapes) fails in
// the page and comes back as one line too, exit code 1, after the progress lines.
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DPO_ROWS, expectOk, expectRejection, expectUsageError, LLAMA, QWEN, readJsonl, SFT_ROWS, workspace } from './support/workspace.ts';

const ws = workspace();
const sft = ws.jsonl('sft.jsonl', SFT_ROWS);
const dpo = ws.jsonl('dpo.jsonl', DPO_ROWS);
const out = ws.path('out');
afterAll(() => ws.remove());

const tiny = ['--max-steps', '1', '--max-length', '32', '--batch-size', '2'];

describe('rejected before the browser starts (exit 2, one line)', () => {
  // One refusal per command through the real command line: exactly that line on stderr, nothing on stdout, exit 2.
  // Every other refusal of a flag, folder or file is the same UsageError, checked in Node: apps/cli/src/refusals.test.ts.
  const cases: { name: string; args: string[]; command?: string; expect: (RegExp | string)[] }[] = [
    {
      name: 'missing --model',
      args: ['train', '--method', 'sft', '--data', sft, '--out', out],
      expect: ['--model is required', 'Hub id'],
    },
    {
      name: 'an eval batch size that is not a whole number',
      command: 'eval',
      args: ['eval', '--method', 'sft', '--model', LLAMA, '--data', sft, '--batch-size', '2.5', '--json'],
      expect: ['--batch-size must be a whole number (got 2.5)'],
    },
    {
      name: 'generate: missing --prompt',
      command: 'generate',
      args: ['generate', '--model', LLAMA],
      expect: ['--prompt is required'],
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

  it('a tokenizer with more ids than config.json vocab_size, naming both numbers and both files', async () => {
    const model = ws.copyModel(LLAMA, 'small-vocab');
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, vocab_size: 295 }));
    const r = await ws.run(['train', '--method', 'sft', '--model', model, '--data', sft, '--out', out, ...tiny]);
    expectRejection(
      r,
      'train',
      1,
      `${join(model, 'tokenizer.json')}: has 301 token ids (added tokens included) but ${join(model, 'config.json')} gives vocab_size 295, so ids 295..300 have no row in the embedding`,
    );
  });

  it('a tokenizer problem names the file in the model folder', async () => {
    const model = ws.copyModel(LLAMA, 'no-eos');
    const config = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8'));
    delete config.eos_token;
    writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify(config));
    const r = await ws.run(['train', '--method', 'sft', '--model', model, '--data', sft, '--out', out, ...tiny]);
    expectRejection(r, 'train', 1, `${join(model, 'tokenizer_config.json')}: no "eos_token"`);
  });

  it('a run whose memory estimate is over --memory-budget-gib, with the estimate, the budget and what to lower', async () => {
    const r = await ws.run([
      'train',
      '--method',
      'sft',
      '--model',
      LLAMA,
      '--data',
      sft,
      '--out',
      out,
      ...tiny,
      '--memory-budget-gib',
      '0.0001',
    ]);
    expectRejection(
      r,
      'train',
      1,
      /This run would not fit: The run needs about [\d.]+ MiB of GPU memory, more than the budget of 104\.9 KiB/,
      'lower the batch size',
    );
    expect(existsSync(out)).toBe(false);
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
    expectRejection(
      r,
      'train',
      1,
      'bad.jsonl: no valid SFT rows (3 rejected)',
      'field "prompt" is not a string or a list of messages (1 row: line 1)',
      'invalid JSON (1 row: line 2)',
      'field "text" is empty (1 row: line 3)',
    );
  });

  it('a chat template that fails is said once: at load when its Jinja cannot be read, once for all the rows it raises on', async () => {
    const withTemplate = (name: string, template: string) => {
      const model = ws.copyModel(LLAMA, name);
      const file = join(model, 'tokenizer_config.json');
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), chat_template: template }));
      return model;
    };
    const chats = ws.jsonl(
      'chats.jsonl',
      ['hi', 'hello', 'hey'].map((w) => ({
        messages: [
          { role: 'user', content: w },
          { role: 'assistant', content: `${w} back` },
        ],
      })),
    );
    const raises = withTemplate('raises', "{{ raise_exception('Only user and assistant roles are supported!') }}");
    let r = await ws.run(['train', '--method', 'sft', '--model', raises, '--data', chats, '--out', out, ...tiny]);
    const reason = 'chat template raised an error: the chat template raised: Only user and assistant roles are supported!';
    expectRejection(r, 'train', 2, `chats.jsonl has no usable SFT rows: every row was dropped (${reason})`);
    expect(r.stderr.split('\n').filter((l) => l.includes('Only user and assistant'))).toEqual([
      `    lines 1-3 dropped: ${reason}`,
      expect.any(String),
    ]);

    const unreadable = withTemplate('unreadable', '{% for m in messages %}{{ m.content }}');
    r = await ws.run(['train', '--method', 'sft', '--model', unreadable, '--data', chats, '--out', out, ...tiny]);
    const problem = `${join(unreadable, 'tokenizer_config.json')}: the chat template cannot be read`;
    expect(r.stderr.split('\n').filter((l) => l.startsWith(`warning: ${problem}`))).toHaveLength(1);
    expectRejection(r, 'train', 1, problem, 'give prompt and completion as plain strings');
  });

  it('an adapter trained for a different model (wrong shapes)', async () => {
    const adapter = join(QWEN, 'adapter');
    const r = await ws.run(['train', '--method', 'dpo', '--model', LLAMA, '--data', dpo, '--out', out, '--adapter', adapter, ...tiny]);
    const message = expectRejection(r, 'train', 1, `--adapter ${adapter}`, 'trained on qwen2-bias-f16', 'does not match this model');
    expect(message).toMatch(/lora_A\.weight is \[\d+,\d+\], expected \[\d+,\d+\]/);
  });
});

describe('an eval batch size that does not divide the rows still evaluates every row', () => {
  it('eval: 5 pairs in batches of 2 give the metrics of one batch of all 5 (rewards/accuracies in fifths)', async () => {
    const five = ws.jsonl('five-pairs.jsonl', [...DPO_ROWS, { prompt: 'Up', chosen: ' down', rejected: ' sideways far' }]);
    const evaluate = (batchSize: string) =>
      ws.run([
        'eval',
        '--method',
        'dpo',
        '--model',
        LLAMA,
        '--data',
        five,
        '--adapter',
        join(LLAMA, 'adapter'),
        '--batch-size',
        batchSize,
        '--json',
      ]);
    const [twos, whole] = await Promise.all([evaluate('2'), evaluate('5')]);
    expectOk(twos);
    expectOk(whole);
    // A dropped last batch (4 pairs) would give other means, and an accuracy in quarters. The padding differs
    // between the batchings, so float32 sums may differ in their last bits.
    const metrics: Record<string, number> = JSON.parse(twos.stdout);
    const reference: Record<string, number> = JSON.parse(whole.stdout);
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(reference).sort());
    for (const [k, x] of Object.entries(reference)) expect(metrics[k], k).toBeCloseTo(x, 5);
    const accuracy = metrics['rewards/accuracies'];
    expect(accuracy > 0 && accuracy < 1, `accuracy ${accuracy}: it must tell fifths from quarters`).toBe(true);
    expect(accuracy * 5).toBeCloseTo(Math.round(accuracy * 5), 9);
    expect(twos.stderr).toMatch(/^data: five-pairs\.jsonl \([^)]+\): 5 rows kept, 0 rejected, 0 dropped/m);
  });
});

describe('every refused row is reported: each reason with its count and lines, and each line with its reason', () => {
  // About 200 tokens of prompt: more than --max-length 32 (the fixture's byte-level BPE has few merges).
  const longPrompt = 'a prompt far longer than the max length allows, '.repeat(4);

  it('eval: a few refused rows are listed one by one, and the rows kept are evaluated', async () => {
    const mixed = ws.jsonl('mixed.jsonl', [
      ...SFT_ROWS,
      'not json',
      { prompt: '', completion: ' x' },
      { prompt: longPrompt, completion: ' y' },
      '{',
    ]);
    const r = await ws.run(['eval', '--method', 'sft', '--model', LLAMA, '--data', mixed, '--max-length', '32', '--json']);
    expectOk(r);
    expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual(['loss', 'num_tokens']);
    const lines = r.stderr.split('\n');
    expect(lines).toContain('data: mixed.jsonl (prompt-completion): 4 rows kept, 3 rejected, 1 dropped, 0 truncated to 32 tokens');
    expect(lines).toContain('  rejected: invalid JSON (2 rows: lines 5, 8)');
    expect(lines).toContain('  rejected: field "prompt" is empty (1 row: line 6)');
    expect(lines).toContain('  dropped: prompt fills max_length (1 row: line 7)');
    expect(lines.filter((l) => l.startsWith('    line ')).map((l) => l.split(':')[0])).toEqual([
      '    line 5 rejected',
      '    line 6 rejected',
      '    line 7 dropped',
      '    line 8 rejected',
    ]);
    expect(lines).toContain('    line 6 rejected: field "prompt" is empty');
    expect(r.stderr).toMatch(/^ {4}line 7 dropped: prompt fills max_length: the prompt is \d+ tokens and max_length is 32/m);
  });

  it('train: past 20 refused rows, all of them go to <out>/rejected_rows.jsonl, and stderr says where', async () => {
    const many = ws.jsonl('many.jsonl', [
      ...SFT_ROWS,
      ...Array.from({ length: 24 }, (_, i) => `broken ${i}`),
      { prompt: longPrompt, completion: ' y' },
    ]);
    const dir = ws.path('many-out');
    const r = await ws.run(['train', '--method', 'sft', '--model', LLAMA, '--data', many, '--out', dir, ...tiny]);
    expectOk(r);
    const lines = r.stderr.split('\n');
    expect(lines).toContain('  rejected: invalid JSON (24 rows: lines 5-28)');
    expect(lines).toContain('  dropped: prompt fills max_length (1 row: line 29)');
    expect(lines).toContain(
      `  each of the 25 refused rows with its reason: ${join(dir, 'rejected_rows.jsonl')} (written with the adapter)`,
    );
    expect(lines.some((l) => l.startsWith('    line '))).toBe(false);
    const listed = readJsonl(join(dir, 'rejected_rows.jsonl'));
    expect(listed.map((x) => x.line)).toEqual(Array.from({ length: 25 }, (_, i) => i + 5));
    for (const x of listed.slice(0, 24)) expect(x).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^invalid JSON: /) });
    expect(listed[24]).toMatchObject({ status: 'dropped', reason: expect.stringMatching(/^prompt fills max_length: /) });
    expect(existsSync(join(dir, 'adapter_model.safetensors'))).toBe(true);
  });
});
