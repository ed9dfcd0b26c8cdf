// The reference token ids for make_goldens.py: Hugging Face tokenizers itself (the Rust library that transformers'
// fast tokenizers run, version 0.22.2, through the @anush008/tokenizers Node binding, installed by make_goldens.py
// into .cache/). One request per line on stdin, one answer per line on stdout:
//   {"file": "<tokenizer.json>", "text": "...", "add_special_tokens": bool, "chars": [i, ...]}
//   -> {"ids": [...], "char_to_token": [...]}   (Encoding.char_to_token of each char index, null where none)
// or {"error": "..."} when the library refuses the file or the text.
const path = require('node:path');
const readline = require('node:readline');
const { Tokenizer } = require(path.join(__dirname, '.cache', 'node_modules', '@anush008', 'tokenizers'));

const loaded = new Map();
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  rl.pause();
  const req = JSON.parse(line);
  let answer;
  try {
    if (!loaded.has(req.file)) loaded.set(req.file, Tokenizer.fromFile(req.file));
    const enc = await loaded.get(req.file).encode(req.text, null, { addSpecialTokens: req.add_special_tokens });
    const found = (c) => {
      const t = enc.charToToken(c);
      return t === undefined || t === null || t < 0 ? null : t;
    };
    answer = { ids: enc.getIds(), char_to_token: (req.chars ?? []).map(found) };
  } catch (e) {
    answer = { error: String(e?.message ?? e) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  rl.resume();
});
