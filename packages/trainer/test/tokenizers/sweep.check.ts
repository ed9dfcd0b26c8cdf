// The other half of sweep.py: each swept tokenizer's rows through webtune's dataset reader and prepareSft, as
// real-tokenizers.test.ts does for the committed goldens, sorted into: the same ids and loss spans as the reference,
// refused by name (a TokenizerError, or a row dropped with its reason) where the reference also has no sequence,
// or a failure (other ids, a refusal where the reference has ids, ids where it has none, or a JavaScript builtin
// error reaching the user). Prints one line per tokenizer and the failures, and fails on any failure. Its own vitest
// config (the templates are imported as Vite ?raw modules), outside every project of the suite:
//
// Run from packages/trainer:  npx vitest run --config test/tokenizers/sweep.config.ts
import { readFileSync } from 'node:fs';
import { expect, it, vi } from 'vitest';
import { type Message, readSftDataset } from '../../src/data/formats.ts';
import { lossSpans, prepareSft } from '../../src/data/tokenize.ts';
import { TextTokenizer, TokenizerError } from '../../src/data/tokenizer.ts';

interface Case {
  row: { name: string; messages?: Message[]; tools?: unknown[]; chat_template_kwargs?: Record<string, unknown> };
  ids?: number[];
  completion_start?: number;
  loss_spans?: [number, number][];
  full_ids?: number[];
}
interface Entry {
  name: string;
  folder: string;
  rust_error?: string;
  jinja_error?: string;
  cases: Case[];
  texts: { text: string; add_special_tokens: boolean; ids?: number[]; error?: string }[];
}

const here = (p: string) => new URL(p, import.meta.url);
const goldens = JSON.parse(readFileSync(here('.cache/sweep/goldens.json'), 'utf8')) as { now: string; tokenizers: Entry[] };

const BUILTIN =
  /\b(TypeError|RangeError|ReferenceError|SyntaxError|is not a function|Cannot read propert|undefined is not|Maximum call stack)/;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

it('every swept tokenizer matches the reference or is refused by name', () => {
  // strftime_now reads the clock; the reference pinned it.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(goldens.now));
  let failures = 0;
  for (const t of goldens.tokenizers) {
    const tally = { texts: 0, match: 0, refused: 0 };
    const fail = (what: string) => {
      failures++;
      console.log(`  FAIL ${t.name}: ${what}`);
    };
    const json = JSON.parse(readFileSync(here(`${t.folder}/tokenizer.json`), 'utf8'));
    const config = JSON.parse(readFileSync(here(`${t.folder}/tokenizer_config.json`), 'utf8'));
    let tok: TextTokenizer;
    try {
      tok = TextTokenizer.fromJson(json, config, t.name);
    } catch (e) {
      const err = e as Error;
      if (!(err instanceof TokenizerError) || BUILTIN.test(err.message)) fail(`loading: ${err.name}: ${err.message}`);
      console.log(`${t.name}: refused at load: ${err.message.slice(0, 300)}`);
      if (t.cases.some((c) => c.ids !== undefined)) console.log('  (the reference tokenises it)');
      continue;
    }
    if (t.rust_error) fail(`loaded, but Rust refuses it: ${t.rust_error}`);
    const templateNote = tok.chatTemplateProblem ? ` (template: ${tok.chatTemplateProblem.slice(0, 200)})` : '';
    for (const x of t.texts) {
      const what = `${JSON.stringify(x.text.slice(0, 40))} ${x.add_special_tokens ? 'with' : 'without'} special tokens`;
      try {
        const ids = tok.encode(x.text, { addSpecialTokens: x.add_special_tokens });
        if (x.ids === undefined) fail(`${what}: webtune tokenises a text the reference refuses (${x.error})`);
        else if (!same(ids, x.ids))
          fail(`${what}: ids differ: ${JSON.stringify(ids).slice(0, 200)} vs ${JSON.stringify(x.ids).slice(0, 200)}`);
        else tally.texts++;
      } catch (e) {
        const err = e as Error;
        if (x.ids !== undefined || !(err instanceof TokenizerError) || BUILTIN.test(err.message))
          fail(`${what}: threw ${err.name}: ${err.message}`);
        else tally.refused++;
      }
    }
    for (const c of t.cases) {
      const { name, ...row } = c.row;
      try {
        const report = readSftDataset(JSON.stringify(row), 'sweep.jsonl');
        const r = prepareSft(tok, report.rows, report.lines, 100_000);
        const seq = r.examples[0]?.seq;
        if (c.ids === undefined) {
          if (seq !== undefined) fail(`${name}: webtune tokenises a row the reference refuses (${JSON.stringify(c).slice(0, 200)})`);
          else if (BUILTIN.test(r.dropped[0].reason)) fail(`${name}: dropped with a builtin error: ${r.dropped[0].reason}`);
          else tally.refused++;
          continue;
        }
        if (seq === undefined) {
          fail(`${name}: refused (${r.dropped[0]?.reason}) but the reference tokenises it`);
          continue;
        }
        if (!same(seq.ids, c.ids))
          fail(`${name}: ids differ: ${JSON.stringify(tok.decode(seq.ids))} vs the reference's ${JSON.stringify(tok.decode(c.ids))}`);
        else if (seq.completionStart !== c.completion_start || !same(lossSpans(seq), c.loss_spans ?? [[c.completion_start, c.ids.length]]))
          fail(`${name}: loss spans differ: ${JSON.stringify(lossSpans(seq))} vs ${JSON.stringify(c.loss_spans)}`);
        else if (c.full_ids !== undefined) {
          const whole = prepareSft(tok, report.rows, report.lines, 100_000, { assistantOnlyLoss: false });
          if (!same(whole.examples[0]?.seq.ids, c.full_ids)) fail(`${name}: whole-conversation ids differ`);
          else tally.match++;
        } else tally.match++;
      } catch (e) {
        const err = e as Error;
        if (c.ids !== undefined) fail(`${name}: threw ${err.name}: ${err.message.slice(0, 300)}`);
        else if (!(err instanceof TokenizerError) || BUILTIN.test(err.message)) fail(`${name}: threw ${err.name}: ${err.message}`);
        else tally.refused++;
      }
    }
    console.log(
      `${t.name}: ${tally.texts}/${t.texts.length} texts and ${tally.match} rows match, ${tally.refused} refused as the reference refuses${templateNote}`,
    );
  }
  expect(failures).toBe(0);
});
