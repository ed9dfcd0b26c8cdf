// Proves the demo tokenizer loads in webtune's TextTokenizer (packages/trainer/src/data/tokenizer.ts) and agrees with
// the Python tokenizer in common.py: encode (with and without special tokens: neither adds any), decode round trip,
// special-token ids against config.json, and the chat template against common.render_chat.
// Cases come from `check_tokenizer.py` (written to .build/tokenizer-cases.json). Run from the repository root:
//   /usr/bin/python3 scripts/demo/check_tokenizer.py && npx tsx scripts/demo/check_tokenizer.ts
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextTokenizer } from '../../packages/trainer/src/data/tokenizer.ts';

const here = dirname(fileURLToPath(import.meta.url));
const demo = join(here, '..', '..', 'apps', 'studio', 'public', 'demo');
const read = (...p: string[]) => JSON.parse(readFileSync(join(...p), 'utf8'));
const tok = TextTokenizer.fromJson(read(demo, 'model', 'tokenizer.json'), read(demo, 'model', 'tokenizer_config.json'), 'demo/model');
const config = read(demo, 'model', 'config.json');
const cases = read(here, '.build', 'tokenizer-cases.json');
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

let checks = 0;
let failures = 0;
const check = (ok: boolean, what: string) => {
  checks++;
  if (!ok) {
    failures++;
    console.error(`FAIL ${what}`);
  }
};

check(tok.size === config.vocab_size, `tokenizer size ${tok.size} != vocab_size ${config.vocab_size}`);
check(tok.eosTokenId === config.eos_token_id, 'eos id');
check(tok.bosTokenId === config.bos_token_id, 'bos id');
check(tok.padTokenId === config.pad_token_id, `pad id ${tok.padTokenId}`);
for (const c of cases.encode) {
  const ids = tok.encode(c.text);
  check(same(ids, c.ids), `encode ${JSON.stringify(c.text)} -> ${JSON.stringify(ids)} != ${JSON.stringify(c.ids)}`);
  check(same(tok.encode(c.text, { addSpecialTokens: true }), c.ids), `encode with special tokens adds some: ${JSON.stringify(c.text)}`);
  const back = tok.decode(ids);
  check(back === c.text, `round trip ${JSON.stringify(c.text)} -> ${JSON.stringify(back)}`);
}
for (const c of cases.chat) {
  const text = tok.applyChatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt });
  check(text === c.text, `chat template: ${JSON.stringify(text)} != ${JSON.stringify(c.text)}`);
}
console.log(`demo tokenizer: ${tok.size} tokens, eos ${tok.eosTokenId}, pad ${tok.padTokenId}`);
console.log(`${checks - failures}/${checks} checks passed`);
if (failures > 0) process.exit(1);
