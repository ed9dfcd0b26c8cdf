// Proves the demo tokenizer loads in @xenova/transformers (the version packages/trainer depends on) and agrees with
// the Python tokenizer in common.py: encode (with and without special tokens: neither adds any), decode round trip,
// special-token ids against config.json, model_max_length, and the chat template against common.render_chat.
// Cases come from `check_tokenizer.py` (written to .build/tokenizer-cases.json). Run from the repository root:
//   /usr/bin/python3 scripts/demo/check_tokenizer.py && node scripts/demo/check_tokenizer.mjs
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(join(root, 'packages', 'trainer', 'package.json'));
const { AutoTokenizer, env } = await import(pathToFileURL(require.resolve('@xenova/transformers')).href);

const demo = join(root, 'apps', 'studio', 'public', 'demo');
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = `${demo}/`;

const tok = await AutoTokenizer.from_pretrained('model');
const config = JSON.parse(readFileSync(join(demo, 'model', 'config.json'), 'utf8'));
const tcfg = JSON.parse(readFileSync(join(demo, 'model', 'tokenizer_config.json'), 'utf8'));
const cases = JSON.parse(readFileSync(join(here, '.build', 'tokenizer-cases.json'), 'utf8'));
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

let checks = 0;
let failures = 0;
const check = (ok, what) => {
  checks++;
  if (!ok) {
    failures++;
    console.error(`FAIL ${what}`);
  }
};

const id = (t) => tok.model.tokens_to_ids.get(t);
check(tok.model.vocab.length === config.vocab_size, `tokenizer size ${tok.model.vocab.length} != vocab_size ${config.vocab_size}`);
check(id(tcfg.eos_token) === config.eos_token_id, 'eos id');
check(id(tcfg.bos_token) === config.bos_token_id, 'bos id');
check(tok.pad_token_id === config.pad_token_id, `pad id ${tok.pad_token_id}`);
check(tok.model_max_length === tcfg.model_max_length, 'model_max_length');
for (const c of cases.encode) {
  const ids = tok.encode(c.text, null, { add_special_tokens: false });
  check(same(ids, c.ids), `encode ${JSON.stringify(c.text)} -> ${JSON.stringify(ids)} != ${JSON.stringify(c.ids)}`);
  check(same(tok.encode(c.text), c.ids), `encode with special tokens adds some: ${JSON.stringify(c.text)}`);
  const back = tok.decode(ids, { skip_special_tokens: false });
  check(back === c.text, `round trip ${JSON.stringify(c.text)} -> ${JSON.stringify(back)}`);
}
for (const c of cases.chat) {
  const text = tok.apply_chat_template(c.messages, { tokenize: false, add_generation_prompt: c.add_generation_prompt });
  check(text === c.text, `chat template: ${JSON.stringify(text)} != ${JSON.stringify(c.text)}`);
}
console.log(
  `demo tokenizer: ${tok.constructor.name}, ${tok.model.vocab.length} tokens, eos ${id(tcfg.eos_token)}, pad ${tok.pad_token_id}`,
);
console.log(`${checks - failures}/${checks} checks passed`);
if (failures > 0) process.exit(1);
