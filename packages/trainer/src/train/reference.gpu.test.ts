// Right padding never changes a log-prob: a sequence alone, at its own padded length, and the same sequence in a batch
// padded to a much longer T (with another pad id, too) give bit-identical completion-token log-probs, with and
// without LoRA adapters (the fixture's adapter, whose B is nonzero). Causal attention never lets a real token see a
// later pad, and every per-row op (matmul rows, RMSNorm, RoPE, cross-entropy) is independent of the other rows. (The
// training step's forward is held to the same by trainer.gpu.test.ts: DPO's policy, in the training layout, equals its
// reference, computed in another layout, bit for bit at step 0.)
import { gpuTest } from '@webtune/harness/page';
import { IGNORE_INDEX } from '@webtune/kernels';
import {
  check,
  config,
  dataset,
  dpoJsonl,
  FIXTURE,
  FIXTURE_URL,
  internals,
  MAX_LENGTH,
  sameBits,
  service,
  train,
} from '../../test/engine.ts';
import { fetchBytes, fetchText } from '../../test/fixtures.ts';
import { sftBatch } from '../data/batch.ts';
import { readDpoDataset } from '../data/formats.ts';
import { prepareDpo, type Sequence } from '../data/tokenize.ts';
import type { LoraAdapter } from '../model/lora.ts';
import { parseSafetensors } from '../model/safetensors.ts';
import { writeInputs } from '../objectives/objective.ts';
import type { TrainerService } from '../service.ts';
import type { TrainEvent } from './events.ts';
import { ReferenceCache, referenceLogps, sequenceLogps } from './reference.ts';

/** Completion-token log-probs of each sequence, run as one batch right padded with `padId`. */
async function logps(svc: TrainerService, seqs: Sequence[], padId: number, adapters: LoraAdapter[]): Promise<Float32Array[]> {
  const { gpu, loaded } = internals(svc);
  const batch = sftBatch(
    seqs.map((seq, line) => ({ line, seq })),
    padId,
  );
  const step = await loaded.model.step(batch.B, batch.T, { frozen: adapters, train: false });
  writeInputs(gpu, step, batch);
  gpu.run(...step.forward);
  const all = await gpu.read(step.logprobs);
  return seqs.map((_, s) => {
    const rows: number[] = [];
    for (let t = 0; t < batch.T; t++) if (batch.targets[s * batch.T + t] !== IGNORE_INDEX) rows.push(all[s * batch.T + t]);
    return Float32Array.from(rows);
  });
}

gpuTest('right padding never changes a log-prob (alone vs in a batch padded to a longer T, any pad id, with LoRA)', async () => {
  const svc = await service();
  const { tokenizer } = internals(svc).loaded;
  // The fixture's own PEFT adapter (all 7 targets, nonzero A and B), imported through the engine.
  const dir = `${FIXTURE_URL}adapter/`;
  const imported = await svc.importAdapter(
    [
      { name: 'adapter_config.json', data: new TextEncoder().encode(await fetchText(`${dir}adapter_config.json`)) },
      { name: 'adapter_model.safetensors', data: await fetchBytes(`${dir}adapter_model.safetensors`) },
    ],
    'fixture adapter',
  );
  const [fixtureAdapter] = await internals(svc).stack(imported.id);
  const encode = (prompt: string, completion: string): Sequence => {
    const p = tokenizer.encode(prompt);
    return { ids: [...p, ...tokenizer.encode(completion), tokenizer.eosTokenId], completionStart: p.length };
  };
  const short = [encode('hi?', ' yes'), encode('a cat?', ' no'), encode('x', ' maybe later')];
  const long = encode('pad it right:', ' ok then');
  check(long.ids.length > 16 && long.ids.length <= 24, `the long sequence has ${long.ids.length} tokens, not 17 to 24`);
  for (const s of short) check(s.ids.length <= 16, `a short sequence has ${s.ids.length} tokens`);
  const pads = [tokenizer.padTokenId, 0];
  for (const [what, adapters] of [
    ['base', []],
    ['base + fixture LoRA', [fixtureAdapter]],
  ] as const) {
    for (const [i, s] of short.entries()) {
      const [alone] = await logps(svc, [s], tokenizer.padTokenId, [...adapters]);
      check(alone.length === s.ids.length - s.completionStart && alone.every((x) => x < 0), `${what}: seq ${i} log-probs ${alone}`);
      for (const pad of pads) {
        const [, batched] = await logps(svc, [long, s], pad, [...adapters]);
        sameBits(batched, alone, `${what}: seq ${i} padded with id ${pad} to T=24 vs alone`);
      }
    }
  }
  // The reference pass (DPO's cached log-probs, evaluation) batches however it likes: same sums, bit for bit.
  const { gpu, loaded } = internals(svc);
  const seqs = [...short, long];
  const passes = { gpu, model: loaded.model, adapters: [fixtureAdapter], seqs, padId: tokenizer.padTokenId };
  const one = await sequenceLogps({ ...passes, batchSize: 1 });
  const four = await sequenceLogps({ ...passes, batchSize: 4 });
  check(
    one.sums.every((x, i) => x === four.sums[i]) && one.counts.every((x, i) => x === four.counts[i]),
    `sequenceLogps by 1 ${one.sums} vs by 4 ${four.sums}`,
  );
  await svc.deleteAdapter(imported.id);
});

gpuTest('DPO reference log-probs are computed for the pairs a batch needs, once, and agree bit for bit with a whole pass', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const { model, tokenizer } = loaded;
  const report = readDpoDataset(dpoJsonl(7, 2), 'pairs.jsonl');
  const examples = prepareDpo(tokenizer, report.rows, report.lines, MAX_LENGTH).examples;
  const whole = await referenceLogps(gpu, model, [], examples, 3, tokenizer.padTokenId); // interleaved, 2 per pair
  const cache = new ReferenceCache(gpu, model, [], examples, tokenizer.padTokenId);
  const state = (c: ReferenceCache) => `${c.missing} missing, dirty ${c.dirty}`;
  check(state(cache) === '7 missing, dirty false', `a new cache: ${state(cache)}`);
  /** The whole pass's sums of these pairs, as a micro-batch wants them: every chosen, then every rejected. */
  const layout = (pairs: number[]) => Float32Array.from([...pairs.map((i) => whole[2 * i]), ...pairs.map((i) => whole[2 * i + 1])]);
  // A micro-batch in shuffled order.
  sameBits(
    await cache.of([5, 1, 4].map((i) => examples[i])),
    layout([5, 1, 4]),
    'three pairs computed in one batch vs the whole pass by 3',
  );
  check(state(cache) === '4 missing, dirty true', `after one batch: ${state(cache)}`);
  // What the store keeps: the computed pairs in place, NaN elsewhere. Read back, nothing is computed again.
  const reopened = new ReferenceCache(gpu, model, [], examples, tokenizer.padTokenId, cache.values);
  sameBits(await reopened.of([examples[4], examples[1]]), layout([4, 1]), 'read back');
  check(state(reopened) === '4 missing, dirty false', `pairs already cached were computed again: ${state(reopened)}`);
  sameBits(await reopened.of(examples), layout([0, 1, 2, 3, 4, 5, 6]), 'every pair, four of them computed now');
  check(state(reopened) === '0 missing, dirty true', `after all: ${state(reopened)}`);
  // A stored array of another dataset's length is not used.
  const other = new ReferenceCache(gpu, model, [], examples, tokenizer.padTokenId, new Float32Array(4));
  check(other.missing === 7, `a cache of the wrong length was used: ${state(other)}`);
});

/** A copy of a safetensors file with the BF16 tensor `name` doubled (exponent + 1: exact for normal values). */
function doubled(bytes: Uint8Array, name: string): Uint8Array<ArrayBuffer> {
  const parsed = parseSafetensors('model.safetensors', bytes);
  const t = parsed.tensors.get(name);
  check(t?.dtype === 'BF16', `${name} is ${t?.dtype}, not BF16`);
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  for (let at = parsed.dataOffset + t.begin; at < parsed.dataOffset + t.end; at += 2)
    view.setUint16(at, view.getUint16(at, true) + 0x80, true);
  return out;
}

/**
 * The reference cache is keyed on what the model computes, not on its name: the fixture with its final norm doubled,
 * loaded under the same id (a folder overwritten, a Hub branch that moved on), computes its own reference, so DPO
 * still starts at loss ln 2 with zero rewards; the first checkpoint, loaded again, finds its entry.
 */
gpuTest('DPO reference log-probs are cached per model content: another checkpoint under the same id does not reuse them', async () => {
  const svc = await service();
  const text = dpoJsonl(4, 40);
  const run = async (parentAdapterId: string | null = null) => {
    const datasetId = await dataset(svc, 'dpo', text);
    const { events, logs } = await train(svc, { config: config('dpo', { maxSteps: 1, batchSize: 4 }), datasetId, parentAdapterId });
    const phase = events.find((e): e is Extract<TrainEvent, { type: 'phase' }> => e.type === 'phase' && e.phase === 'reference');
    return { cached: phase?.message, first: logs[0] };
  };
  const fresh = 'reference log-probs: 0 of 4 pairs cached; the others are computed when their batch comes, once';
  const again = 'reference log-probs: all cached';
  check((await run()).cached === fresh, 'the first run found a reference it never computed');
  check((await run()).cached === again, 'the second run did not find the reference the first one cached');

  const [configText, tokenizerJson, tokenizerConfig, weights] = await Promise.all([
    fetchText(`${FIXTURE_URL}config.json`),
    fetchText(`${FIXTURE_URL}tokenizer.json`),
    fetchText(`${FIXTURE_URL}tokenizer_config.json`),
    fetchBytes(`${FIXTURE_URL}model.safetensors`),
  ]);
  const files = new Map<string, Blob>([
    ['config.json', new Blob([configText])],
    ['tokenizer.json', new Blob([tokenizerJson])],
    ['tokenizer_config.json', new Blob([tokenizerConfig])],
    ['model.safetensors', new Blob([doubled(weights, 'model.norm.weight')])],
  ]);
  try {
    await svc.loadModel({ kind: 'files', files, id: FIXTURE });
    check(internals(svc).loaded.id === FIXTURE, `loaded as ${internals(svc).loaded.id}`);
    const other = await run();
    check(other.cached === fresh, `another checkpoint under the same id: "${other.cached}"`);
    // With the first checkpoint's reference, the policy would not equal its reference at step 1.
    const { loss } = other.first;
    check(Math.abs(loss - Math.LN2) <= 1e-6 * Math.LN2, `first loss ${loss}, not ln 2: the reference is another model's`);
    for (const k of ['rewards/chosen', 'rewards/rejected']) check(other.first[k] === 0, `${k} ${other.first[k]} at step 1`);
  } finally {
    await svc.loadModel({ kind: 'url', baseUrl: FIXTURE_URL, id: FIXTURE });
  }
  check((await run()).cached === again, 'the first checkpoint, loaded again, did not find its cached reference');

  // The stage-one adapter counts by content too: one PEFT folder imported twice (two ids) shares one entry.
  const dir = `${FIXTURE_URL}adapter/`;
  const peft = [
    { name: 'adapter_config.json', data: new TextEncoder().encode(await fetchText(`${dir}adapter_config.json`)) },
    { name: 'adapter_model.safetensors', data: await fetchBytes(`${dir}adapter_model.safetensors`) },
  ];
  const one = await svc.importAdapter(peft, 'stage one');
  const two = await svc.importAdapter(peft, 'stage one, imported again');
  check((await run(one.id)).cached === fresh, 'DPO on a stage-one adapter reused the base model’s reference');
  check((await run(two.id)).cached === again, 'the same adapter imported again did not find its cached reference');
  for (const a of [one, two]) await svc.deleteAdapter(a.id, true);
});
