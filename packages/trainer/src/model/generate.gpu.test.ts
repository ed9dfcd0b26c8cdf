// Generation with a KV cache against the plain forward pass: at every step, the logits the next token is drawn from
// equal the last row of a full forward pass over the prompt and the tokens so far, bit for bit. Every op computes a
// row from that row's inputs in an order fixed by position (as reference.gpu.test.ts holds padding to), and a masked cache
// key adds an exact zero, so one row at a time and all rows at once do the same float operations. A stop id ends the
// answer unemitted.
import { gpuTest } from '@webtune/harness/page';
import { check, FIXTURE_URL, internals, logitsOf, sameBits, service } from '../../test/engine.ts';
import { fetchBytes, fetchText } from '../../test/fixtures.ts';
import type { TrainerService } from '../service.ts';
import { type GenerateOptions, generate } from './generate.ts';

/** The fixture's own PEFT adapter (all 7 targets, nonzero A and B), imported through the engine. */
async function fixtureAdapter(svc: TrainerService) {
  const dir = `${FIXTURE_URL}adapter/`;
  const summary = await svc.importAdapter(
    [
      { name: 'adapter_config.json', data: new TextEncoder().encode(await fetchText(`${dir}adapter_config.json`)) },
      { name: 'adapter_model.safetensors', data: await fetchBytes(`${dir}adapter_model.safetensors`) },
    ],
    'fixture adapter',
  );
  const [adapter] = await internals(svc).stack(summary.id);
  return { id: summary.id, adapter };
}

function argmax(logits: Float32Array, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

const greedy = (vocabLimit: number, maxNewTokens: number): GenerateOptions => ({
  maxNewTokens,
  temperature: 0,
  topP: 1,
  seed: 0,
  stopIds: [],
  vocabLimit,
});

gpuTest('KV-cache decoding gives the logits of a full forward pass at every step (base model, and with LoRA)', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const { model, tokenizer } = loaded;
  const V = model.config.vocabSize;
  const lora = await fixtureAdapter(svc);
  const prompt = tokenizer.encode('the moon? ');
  for (const [what, adapters] of [
    ['base', []],
    ['base + LoRA', [lora.adapter]],
  ] as const) {
    const steps: Float32Array[] = [];
    const out = await generate(gpu, model, [...adapters], prompt, { ...greedy(tokenizer.size, 12), onLogits: (l) => steps.push(l) });
    check(out.length === 12 && steps.length === 12, `${what}: ${out.length} tokens from ${steps.length} steps`);
    // Step k saw the prompt and the k tokens before it: a full pass over those, its last row.
    const full = await logitsOf(
      svc,
      [...adapters],
      steps.map((_, k) => [...prompt, ...out.slice(0, k)]),
    );
    for (const [k, got] of steps.entries())
      sameBits(got, full[k].slice(full[k].length - V), `${what}: logits of step ${k}, cached vs full`);
    // And the tokens are the argmax of those logits (greedy), so the comparison followed the very sequence generated.
    for (const [k, l] of steps.entries()) check(out[k] === argmax(l, tokenizer.size), `${what}: step ${k} chose ${out[k]}`);
  }
  await svc.deleteAdapter(lora.id);
});

gpuTest('generation stops at a stop id, without emitting it', async () => {
  const svc = await service();
  const { gpu, loaded } = internals(svc);
  const { model, tokenizer } = loaded;
  const prompt = tokenizer.encode('a cat? ');
  const free = await generate(gpu, model, [], prompt, greedy(tokenizer.size, 8));
  // The first token not seen before it: stopping on it must end the answer just before it.
  const k = free.findIndex((id, i) => i > 0 && !free.slice(0, i).includes(id));
  check(k > 0, `no token to stop on in ${free}`);
  const stopped = await generate(gpu, model, [], prompt, { ...greedy(tokenizer.size, 8), stopIds: [999_999, free[k]] });
  check(stopped.join() === free.slice(0, k).join(), `stopping on ${free[k]}: ${stopped} (free run ${free})`);
  const none = await generate(gpu, model, [], prompt, { ...greedy(tokenizer.size, 8), stopIds: [free[0]] });
  check(none.length === 0, `stopping on the first token still produced ${none}`);
});
