// A seeded fuzz of what the trainer parses from a user's files and flags: config.json, tokenizer_config.json and
// tokenizer.json, SFT/DPO/KTO rows (read and tokenised), adapter_config.json, safetensors headers and bytes, shard
// indexes, dataset bytes, hyper-parameter values. Each hostile value must be refused by webtune's own errors, which
// name the file and field; a JavaScript builtin error (TypeError, RangeError, SyntaxError...) reaching a user is a bug.
// FUZZ_SEED and FUZZ_N run other or more cases (the suite runs 60 of seed 1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FIXTURES_DIR } from '../test/hub-fixtures.ts';
import { readDpoDataset, readKtoDataset, readSftDataset } from './data/formats.ts';
import { decodeDataset } from './data/jsonl.ts';
import { prepareDpo, prepareSft } from './data/tokenize.ts';
import { prepareKto } from './data/tokenize-kto.ts';
import { TextTokenizer } from './data/tokenizer.ts';
import { parseModelConfig } from './model/config.ts';
import { parseSafetensors, parseShardIndex, writeSafetensors } from './model/safetensors.ts';
import { parseAdapterConfig } from './store/peft.ts';
import { defaultConfig, HYPER_PARAMS, setFromText, validateConfig } from './train/config.ts';

const FIX = FIXTURES_DIR;
// A plain Error is no better than a TypeError: webtune's errors are its own classes.
const BUILTIN = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'Error']);
let seed = Number(process.env.FUZZ_SEED ?? 1);
const rand = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
const VALUES: unknown[] = [
  null,
  -1,
  0,
  1,
  1.5,
  -0.5,
  1e308,
  -1e308,
  2 ** 53 + 2,
  2 ** 31,
  '',
  'x',
  'NaN',
  '1e400',
  [],
  {},
  [1, 2],
  { a: 1 },
  true,
  false,
  'x'.repeat(5000),
  [[[]]],
  [null],
  [-1],
  ['a', 3],
  { content: 3 },
  { content: null },
];
function mutate(v: unknown, depth = 0): unknown {
  if (depth > 6 || rand() < 0.25) return pick(VALUES);
  if (Array.isArray(v)) {
    if (v.length === 0) return pick(VALUES);
    const out = [...v];
    const i = Math.floor(rand() * out.length);
    if (rand() < 0.2) out.splice(i, 1);
    else out[i] = mutate(out[i], depth + 1);
    return out;
  }
  if (v && typeof v === 'object') {
    const out = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(out);
    if (keys.length === 0) return pick(VALUES);
    const k = pick(keys);
    if (rand() < 0.15) delete out[k];
    else out[k] = mutate(out[k], depth + 1);
    return out;
  }
  return pick(VALUES);
}
const leaks = new Map<string, string>();
function attempt(what: string, fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    const name = (e as Error)?.constructor?.name ?? typeof e;
    if (BUILTIN.has(name) || !(e instanceof Error)) {
      const key = `${what}: ${name}: ${String((e as Error)?.message ?? e).slice(0, 160)}`;
      if (!leaks.has(key)) leaks.set(key, ((e as Error)?.stack ?? '').split('\n').slice(1, 4).join(' | '));
    }
  }
}
it('no builtin JavaScript error from hostile configs, tokenizers, rows, adapters, safetensors, indexes or flags', async () => {
  const read = (p: string) => readFileSync(p, 'utf8');
  const configs = [
    'llama-gqa-bf16',
    'qwen3-qknorm-bf16',
    'gemma3-sandwich-bf16',
    'mistral-window-f32',
    'smollm3-nope-f16',
    'qwen2-bias-f16',
  ].map((n) => JSON.parse(read(join(FIX, n, 'config.json'))));
  const tokJson = JSON.parse(read(join(FIX, 'llama-gqa-bf16', 'tokenizer.json')));
  const tokCfg = JSON.parse(read(join(FIX, 'llama-gqa-bf16', 'tokenizer_config.json')));
  const tok = TextTokenizer.fromJson(tokJson, tokCfg, 'm');
  const adapterCfg = JSON.parse(read(join(FIX, 'llama-gqa-bf16', 'adapter', 'adapter_config.json')));
  const N = Number(process.env.FUZZ_N ?? 60);
  for (let i = 0; i < N; i++) {
    await new Promise((r) => setImmediate(r)); // let the runner breathe: this loop is long
    attempt('config', () => parseModelConfig(JSON.stringify(mutate(pick(configs)))));
    attempt('tokenizer_config', () => TextTokenizer.fromJson(tokJson, mutate(tokCfg) as Record<string, unknown>, 'm'));
    if (i % 10 === 0) attempt('tokenizer.json', () => TextTokenizer.fromJson(mutate(tokJson), tokCfg, 'm'));
    attempt('adapter_config', () => parseAdapterConfig(JSON.stringify(mutate(adapterCfg))));
    const sftRow = pick<unknown>([
      { prompt: 'Hi', completion: ' there' },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      },
      { text: 'abc' },
    ]);
    const dpoRow = pick<unknown>([
      { prompt: 'Hi', chosen: ' a', rejected: ' b' },
      {
        chosen: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
        rejected: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'c' },
        ],
      },
    ]);
    const ktoRow = { prompt: 'Hi', completion: ' a', label: true };
    const lines = (row: unknown) => [JSON.stringify(row), JSON.stringify(mutate(row)), JSON.stringify(mutate(row))].join('\n');
    const maxLength = pick([1, 2, 8, 64, 1024]);
    attempt('sft', () => {
      const r = readSftDataset(lines(sftRow), 'f.jsonl');
      prepareSft(tok, r.rows, r.lines, maxLength);
    });
    attempt('dpo', () => {
      const r = readDpoDataset(lines(dpoRow), 'f.jsonl');
      prepareDpo(tok, r.rows, r.lines, maxLength);
    });
    attempt('kto', () => {
      const r = readKtoDataset(`${lines(ktoRow)}\n${JSON.stringify({ ...ktoRow, label: false })}`, 'f.jsonl');
      if (r.kind === 'unpaired') prepareKto(tok, r.report.rows, r.report.lines, maxLength);
    });
    attempt('index', () =>
      parseShardIndex(
        'i.json',
        JSON.stringify(mutate({ metadata: { total_size: 8 }, weight_map: { a: 'model-00001-of-00002.safetensors' } })),
      ),
    );
    const st = writeSafetensors([{ name: 'w', shape: [2], data: new Float32Array(2) }]);
    const n = Number(new DataView(st.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + n)));
    attempt('safetensors header', () => {
      const h = new TextEncoder().encode(JSON.stringify(mutate(header)));
      const b = new Uint8Array(8 + h.length + 8);
      new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
      b.set(h, 8);
      parseSafetensors('m', b);
    });
    attempt('safetensors bytes', () => {
      const b = st.slice();
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      parseSafetensors('m', b);
    });
    attempt('dataset bytes', () =>
      decodeDataset(
        'd.jsonl',
        Uint8Array.from({ length: 20 }, () => Math.floor(rand() * 256)),
      ),
    );
    attempt('train config', () => {
      const c = defaultConfig(pick(['sft', 'dpo', 'kto', 'orpo', 'simpo'] as const));
      const p = pick(HYPER_PARAMS);
      setFromText(
        c,
        p.flag,
        String(
          pick([
            '-1',
            '0',
            '1e999',
            'NaN',
            'Infinity',
            '0x10',
            '',
            ' ',
            '1,2',
            'true',
            '3.5',
            '-0',
            '1e-400',
            '99999999999999999999',
            'q_proj,',
            ',',
            'all-linear',
          ]),
        ),
      );
      validateConfig(c);
    });
  }
  // Deep nesting: JSON.parse recursion.
  const deep = `${'['.repeat(200000)}${']'.repeat(200000)}`;
  attempt('deep sft line', () => readSftDataset(deep, 'f.jsonl'));
  attempt('deep config', () => parseModelConfig(deep));
  attempt('deep adapter_config', () => parseAdapterConfig(deep));
  attempt('deep index', () => parseShardIndex('i.json', deep));
  expect([...leaks].map(([k, v]) => `${k} at ${v}`)).toEqual([]);
}, 600_000);
