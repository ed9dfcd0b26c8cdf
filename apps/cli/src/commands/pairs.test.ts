// `pnpm cli pairs` needs no browser: run here in Node, in process. What test/cli-pairs.test.ts does through the real
// command line (candidates from the model, scores, DPO, ab) is not repeated; this is the OpenAI/Together output.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run } from './pairs.ts';

const temp = mkdtempSync(join(tmpdir(), 'webtune-pairs-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const set = (id: string, prompt: string, candidates: string[]) => ({
  id,
  prompt,
  candidates,
  model: 'demo',
  adapter: 'my sft',
  sampling: { temperature: 1, top_p: 1, max_new_tokens: 16, seed: 0 },
  seeds: candidates.map((_, i) => 100 + i),
});

describe('pnpm cli pairs --format openai', () => {
  it('writes preferred_output / non_preferred_output rows, the provenance sidecar line for line', async () => {
    const candidates = join(temp, 'candidates.jsonl');
    writeFileSync(
      candidates,
      `${[set('prompt-1', 'Describe the fox.', ['The fox lives in the forest.', 'A fox.']), set('prompt-2', 'Hi?', ['Hello there', 'Hi'])]
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
    const out = join(temp, 'out');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await run(['--candidates', candidates, '--degrade', '--format', 'openai', '--out', out])).toBe(0);
      expect(JSON.parse(String(write.mock.calls[0][0]))).toMatchObject({ pairs: 2, prompts: 2, synthetic: true, same: 0 });
    } finally {
      vi.restoreAllMocks();
    }
    const rows = readFileSync(join(out, 'pairs.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toEqual([
      {
        input: { messages: [{ role: 'user', content: 'Describe the fox.' }] },
        preferred_output: [{ role: 'assistant', content: 'The fox lives in the forest.' }],
        non_preferred_output: [{ role: 'assistant', content: 'The fox lives' }],
      },
      {
        input: { messages: [{ role: 'user', content: 'Hi?' }] },
        preferred_output: [{ role: 'assistant', content: 'Hello there' }],
        non_preferred_output: [{ role: 'assistant', content: 'Hello' }],
      },
    ]);
    const prov = readFileSync(join(out, 'pairs.provenance.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(prov.map((p) => [p.line, p.id, p.source])).toEqual([
      [1, 'prompt-1', 'synthetic'],
      [2, 'prompt-2', 'synthetic'],
    ]);
  });
});
