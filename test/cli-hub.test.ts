// `--model owner/name`: the CLI downloads a checkpoint from a Hub endpoint. A Hub-layout mock in this process serves the
// fixture folders (WEBTUNE_HF_ENDPOINT points the CLI at it): a public repo, a gated one, a dropped download. Failures
// are one line that says what to do.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type HubMockServer, hubMock } from '@webtune/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk, expectRejection, FIXTURES, readJson, readJsonl, SFT_ROWS, type Workspace, workspace } from './support/workspace.ts';

let hub: HubMockServer;
const ws: Workspace = workspace();
const data = ws.jsonl('sft.jsonl', SFT_ROWS);
const tiny = ['--max-steps', '2', '--max-length', '32', '--batch-size', '2', '--logging-steps', '1'];

beforeAll(async () => {
  hub = await hubMock({
    root: FIXTURES,
    repos: { 'webtune-test/tiny': 'llama-gqa-bf16', 'webtune-test/gated': 'llama-tied-f32', 'webtune-test/dropped': 'qwen2-bias-f16' },
    gated: ['webtune-test/gated'],
    truncated: ['webtune-test/dropped'],
  }).listen();
});
afterAll(async () => {
  await hub?.close();
  ws.remove();
});

/** Run the CLI against the mock Hub. */
const run = (args: string[], env: Record<string, string> = {}) => ws.run(args, { WEBTUNE_HF_ENDPOINT: hub.url, ...env });

describe('train --model <hub id>', () => {
  it('downloads the checkpoint and trains: the adapter names the Hub id as its base model', async () => {
    const out = ws.path('from-hub');
    const r = await run(['train', '--method', 'sft', '--model', 'webtune-test/tiny', '--data', data, '--out', out, ...tiny]);
    expectOk(r);
    expect(r.stderr).toContain(`model: webtune-test/tiny (${hub.url})`);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'])
      expect(r.stderr).toMatch(new RegExp(`^${f.replace('.', '\\.')}: `, 'm'));
    expect(readJson(join(out, 'adapter_config.json'))).toMatchObject({ peft_type: 'LORA', base_model_name_or_path: 'webtune-test/tiny' });
    expect(readJson(join(out, 'training_config.json'))).toMatchObject({ model_name_or_path: 'webtune-test/tiny', max_steps: 2 });
    expect(readJsonl(join(out, 'metrics.jsonl'))).toHaveLength(2);
  });

  it('a gated repo without HF_TOKEN: exit 1, one line that says to set HF_TOKEN', async () => {
    const out = ws.path('gated');
    const r = await run(['train', '--method', 'sft', '--model', 'webtune-test/gated', '--data', data, '--out', out, ...tiny]);
    expectRejection(r, 'train', 1, '"webtune-test/gated" is gated or private', '401', 'Set HF_TOKEN');
    expect(existsSync(out)).toBe(false);
  });

  it('a gated repo with HF_TOKEN: the token is sent and the model loads', async () => {
    const r = await run(['generate', '--model', 'webtune-test/gated', '--prompt', 'Hi', '--max-new-tokens', '2'], { HF_TOKEN: 'hf_test' });
    expectOk(r);
    expect(r.stderr).toContain('loaded LlamaForCausalLM');
  });

  it('a repo that does not exist: exit 1, one line naming it', async () => {
    const r = await run(['train', '--method', 'sft', '--model', 'webtune-test/nope', '--data', data, '--out', ws.path('nope'), ...tiny]);
    expectRejection(r, 'train', 1, 'no model repo "webtune-test/nope"', 'check the id');
  });

  it('a revision that does not exist: exit 1, one line naming it', async () => {
    const r = await run(['train', '--method', 'sft', '--model', 'webtune-test/tiny@v9', '--data', data, '--out', ws.path('rev'), ...tiny]);
    expectRejection(r, 'train', 1, 'no revision "v9"');
  });

  it('a download that breaks off: exit 1, one line naming the file', async () => {
    const r = await run([
      'train',
      '--method',
      'sft',
      '--model',
      'webtune-test/dropped',
      '--data',
      data,
      '--out',
      ws.path('dropped'),
      ...tiny,
    ]);
    expectRejection(r, 'train', 1, 'config.json', /broke off|truncated/, 'try again');
  });
});
