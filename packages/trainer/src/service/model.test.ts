// The tokenizer as a load builds it from the fetched files (Node: no GPU is needed for the tokenizer).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../../test/hub-fixtures.ts';
import { fetchModelFiles } from '../model/source.ts';
import { tokenizerOf } from './model.ts';

const FIXTURE = join(FIXTURES_DIR, 'llama-gqa-bf16');
const blob = (file: string) => new Blob([new Uint8Array(readFileSync(join(FIXTURE, file)))]);
const UNPARSABLE = '{% for m in messages %}';

/** The fixture as picked files in folder "m", its tokenizer_config.json holding `configTemplate`, plus `extra` files. */
async function tokenizer(configTemplate: string, extra: [string, Blob][] = []) {
  const config = { ...JSON.parse(readFileSync(join(FIXTURE, 'tokenizer_config.json'), 'utf8')), chat_template: configTemplate };
  const files = new Map<string, Blob>([
    ...['config.json', 'tokenizer.json', 'model.safetensors'].map((f): [string, Blob] => [`m/${f}`, blob(f)]),
    ['m/tokenizer_config.json', new Blob([JSON.stringify(config)])],
    ...extra,
  ]);
  return tokenizerOf(await fetchModelFiles({ kind: 'files', files, id: 'm' }), 'm');
}

describe('tokenizerOf: a chat template that cannot be parsed is reported in the file it came from', () => {
  it("tokenizer_config.json, when the template is the config's own", async () => {
    expect((await tokenizer(UNPARSABLE)).chatTemplateProblem).toMatch(/^m\/tokenizer_config\.json: the chat template cannot be read \(/);
  });

  it("chat_template.jinja, when that file replaced the config's template (as transformers reads it)", async () => {
    const tok = await tokenizer('{{ messages[0].content }}', [['m/chat_template.jinja', new Blob([UNPARSABLE])]]);
    expect(tok.chatTemplateProblem).toMatch(/^m\/chat_template\.jinja: the chat template cannot be read \(/);
  });
});
