// The engine's adapter round trips: an exported adapter imported again (as files, or zipped in a folder) gives the
// same tensors, logits, evaluation and generation; a DPO adapter trained on top of an SFT adapter exports as ONE
// adapter of rank r1+r2 that, loaded alone on the plain base model, reproduces base + SFT + DPO.
import { gpuTest } from '@webtune/harness/page';
import {
  check,
  config,
  dataset,
  dpoJsonl,
  exportedTensors,
  FIXTURE,
  internals,
  logitsOf,
  maxDiff,
  sameBits,
  sameTensors,
  service,
  sftJsonl,
  storedTensors,
  trained,
} from '../test/engine.ts';
import { loraScale } from './model/lora.ts';
import type { TrainerService } from './service.ts';
import { unzip, zip } from './store/zip.ts';

const dec = new TextDecoder();
const PROMPTS = ['hi? yes', 'a cat? no', 'the moon? maybe later', 'x'];

async function logits(svc: TrainerService, ids: string[]): Promise<Float32Array[]> {
  const { tokenizer } = internals(svc).loaded;
  const stack = ids.length > 0 ? await internals(svc).stack(ids.at(-1)!) : [];
  return logitsOf(
    svc,
    stack,
    PROMPTS.map((p) => tokenizer.encode(p)),
  );
}

/** Greedy generation: the KV-cache path (prefill, then one token at a time). */
async function greedy(svc: TrainerService, adapterId: string | null): Promise<string[]> {
  return [(await svc.generate({ prompt: 'rain?', adapterId, maxNewTokens: 4 })).text];
}

gpuTest(
  'an exported adapter imported again (files, and a zip of its folder) gives identical tensors, logits, loss and generation',
  async () => {
    const svc = await service();
    const data = await dataset(svc, 'sft', sftJsonl(4, 30));
    const cfg = config('sft', {
      learningRate: 5e-2,
      lora: { r: 3, alpha: 4, useRslora: true, targetModules: ['q_proj', 'v_proj', 'up_proj'] },
    });
    const sft = await trained(svc, { config: cfg, datasetId: data, name: 'round trip' });
    const files = await svc.exportAdapter(sft.id);
    check(
      files.map((f) => f.name).join() === 'adapter_config.json,adapter_model.safetensors,README.md,training_config.json',
      `files ${files.map((f) => f.name)}`,
    );
    const exported = exportedTensors(files);
    check(exported.lora.r === 3 && exported.lora.alpha === 4 && exported.lora.useRslora, `config ${JSON.stringify(exported.lora)}`);
    check(exported.baseModel === FIXTURE, `base_model_name_or_path ${exported.baseModel}`);
    const training = JSON.parse(dec.decode(files.find((f) => f.name === 'training_config.json')!.data));
    check(training.trainer === 'SFTTrainer' && training.learning_rate === 5e-2, `training_config ${JSON.stringify(training)}`);

    const base = await logits(svc, []);
    const want = await logits(svc, [sft.id]);
    const wantLoss = await svc.evaluate({ datasetId: data, adapterId: sft.id });
    const baseLoss = await svc.evaluate({ datasetId: data });
    const wantText = await greedy(svc, sft.id);
    const moved = maxDiff(want[0], base[0]).diff;
    check(
      moved > 1e-3 && wantLoss.loss !== baseLoss.loss,
      `the adapter hardly changes the model (${moved}): the round trip would prove nothing`,
    );

    const zipped = zip(files.map((f) => ({ name: `round-trip/${f.name}`, data: f.data })));
    for (const [how, input] of [
      ['files', files],
      ['zip', [...unzip(zipped)].map(([name, data]) => ({ name, data }))],
    ] as const) {
      const back = await svc.importAdapter([...input], `imported (${how})`);
      check(back.method === 'sft' && back.parentId === null, `${how}: ${JSON.stringify(back)}`);
      check(
        JSON.stringify(back.lora) === JSON.stringify(cfg.lora),
        `${how}: lora ${JSON.stringify(back.lora)} vs ${JSON.stringify(cfg.lora)}`,
      );
      sameTensors(await storedTensors(svc, back.id), await storedTensors(svc, sft.id), `${how}: imported tensors`);
      const got = await logits(svc, [back.id]);
      for (const [i, g] of got.entries()) sameBits(g, want[i], `${how}: logits of "${PROMPTS[i]}"`);
      const loss = await svc.evaluate({ datasetId: data, adapterId: back.id });
      check(loss.loss === wantLoss.loss, `${how}: eval loss ${loss.loss} vs ${wantLoss.loss}`);
      const text = await greedy(svc, back.id);
      check(text.join('|') === wantText.join('|'), `${how}: generated ${JSON.stringify(text)} vs ${JSON.stringify(wantText)}`);
      // Exported again, it is the same folder (training config included), byte for byte.
      const again = await svc.exportAdapter(back.id);
      for (const f of again) {
        if (f.name === 'README.md') continue; // the card carries the import's name and date
        const orig = files.find((x) => x.name === f.name)!.data;
        check(f.data.length === orig.length && f.data.every((b, i) => b === orig[i]), `${how}: re-exported ${f.name} differs`);
      }
    }
    // An adapter whose config names another base (the CLI names a local folder by its folder) is checked against the
    // loaded model, so it is kept as that model's: the Adapters, Compare and Export screens offer it with it.
    const elsewhere = files.map((f) => {
      if (f.name !== 'adapter_config.json') return f;
      const config = { ...JSON.parse(dec.decode(f.data)), base_model_name_or_path: 'elsewhere/model' };
      return { ...f, data: new TextEncoder().encode(JSON.stringify(config)) };
    });
    const rebound = await svc.importAdapter(elsewhere, 'declared elsewhere');
    check(rebound.baseModel === FIXTURE, `an adapter declaring elsewhere/model is kept as ${rebound.baseModel}`);
  },
);

/**
 * SFT (r 3, rsLoRA alpha 4: scale 4/sqrt 3, on q, v, up) then DPO on top of it (r 2, alpha 6: scale 3, on q, k,
 * down): exported, the DPO adapter is one adapter of rank 5 over the union q, k, v, up, down, with scale 1. Imported
 * with no parent, it must give the logits of base + SFT + DPO: float32 rounding apart (the stacked adapter sums the
 * two low-rank products in one matmul, and s·B is rounded once), far closer than the DPO adapter's own effect.
 */
gpuTest('a DPO adapter on an SFT adapter exports as one exact rank r1+r2 adapter that reproduces base+SFT+DPO alone', async () => {
  const svc = await service();
  const sftCfg = config('sft', {
    learningRate: 5e-2,
    lora: { r: 3, alpha: 4, useRslora: true, targetModules: ['q_proj', 'v_proj', 'up_proj'] },
  });
  const sft = await trained(svc, { config: sftCfg, datasetId: await dataset(svc, 'sft', sftJsonl(4, 31)), name: 'stage one' });
  const dpoCfg = config('dpo', { learningRate: 5e-2, lora: { r: 2, alpha: 6, targetModules: ['q_proj', 'k_proj', 'down_proj'] } });
  const dpoData = await dataset(svc, 'dpo', dpoJsonl(4, 31));
  const dpo = await trained(svc, { config: dpoCfg, datasetId: dpoData, parentAdapterId: sft.id, name: 'stage two' });

  const files = await svc.exportAdapter(dpo.id);
  const exported = exportedTensors(files);
  check(
    JSON.stringify(exported.lora) ===
      JSON.stringify({
        r: 5,
        alpha: 5,
        dropout: 0,
        targetModules: ['q_proj', 'k_proj', 'v_proj', 'up_proj', 'down_proj'],
        useRslora: false,
      }),
    `stacked config ${JSON.stringify(exported.lora)}`,
  );
  check(loraScale(exported.lora) === 1, 'stacked scale is not 1');
  const card = dec.decode(files.find((f) => f.name === 'README.md')!.data);
  check(
    card.includes(
      `stacked from the SFT adapter "stage one" (${sft.id}) and, trained on top of it, the DPO adapter "stage two" (${dpo.id})`,
    ),
    `README.md does not say what it is stacked from:\n${card}`,
  );
  check(!card.includes('merge_and_unload'), 'README.md still tells to merge the SFT adapter first');
  const training = JSON.parse(dec.decode(files.find((f) => f.name === 'training_config.json')!.data));
  check(
    training.trainer === 'DPOTrainer' &&
      training.learning_rate === 5e-2 &&
      training.peft_config.r === 2 &&
      training.stage_one_adapter === sft.id &&
      training.stage_one_adapter_name === 'stage one',
    `training_config.json ${JSON.stringify(training)}`,
  );
  // The plain SFT adapter still exports as itself.
  const sftOnly = exportedTensors(await svc.exportAdapter(sft.id));
  check(sftOnly.lora.r === 3 && sftOnly.lora.useRslora, `SFT export ${JSON.stringify(sftOnly.lora)}`);

  const stacked = await svc.importAdapter(files, 'stacked', null);
  check(stacked.parentId === null && stacked.method === 'dpo' && stacked.lora.r === 5, `imported ${JSON.stringify(stacked)}`);
  const base = await logits(svc, []);
  const stageOne = await logits(svc, [sft.id]);
  const both = await logits(svc, [sft.id, dpo.id]);
  const alone = await logits(svc, [stacked.id]);
  const report: string[] = [];
  for (const [i, a] of alone.entries()) {
    const err = maxDiff(a, both[i]);
    const dpoEffect = maxDiff(both[i], stageOne[i]).diff;
    const sftEffect = maxDiff(stageOne[i], base[i]).diff;
    report.push(
      `"${PROMPTS[i]}": |stacked - (sft+dpo)| ${err.diff.toExponential(2)}, DPO effect ${dpoEffect.toExponential(2)}, SFT effect ${sftEffect.toExponential(2)}`,
    );
    check(dpoEffect > 1e-3 && sftEffect > 1e-3, `adapters too weak to tell anything apart: ${report.at(-1)}`);
    check(err.diff <= 2e-5 * Math.max(1, err.scale), `stacked adapter is not the stack: ${report.at(-1)}`);
    check(err.diff <= 1e-3 * dpoEffect, `stacked adapter error is not small next to the DPO effect: ${report.at(-1)}`);
  }
  console.log(report.join('\n'));
  const text = await greedy(svc, stacked.id);
  const want = await greedy(svc, dpo.id);
  check(text.join('|') === want.join('|'), `generated ${JSON.stringify(text)}, base+SFT+DPO generates ${JSON.stringify(want)}`);
  // The DPO evaluation of the stacked adapter on the base model equals that of DPO on its SFT reference.
  const viaStack = await svc.evaluate({ datasetId: dpoData, adapterId: stacked.id, refAdapterId: null });
  const viaParts = await svc.evaluate({ datasetId: dpoData, adapterId: dpo.id, refAdapterId: sft.id });
  const sftAlone = await svc.evaluate({ datasetId: dpoData, adapterId: sft.id, refAdapterId: null });
  for (const k of ['logps/chosen', 'logps/rejected'])
    check(
      Math.abs(viaStack[k] - viaParts[k]) <= 1e-4 * Math.abs(viaParts[k]) && viaParts[k] !== sftAlone[k],
      `${k}: stacked ${viaStack[k]}, SFT+DPO ${viaParts[k]}, SFT alone ${sftAlone[k]}`,
    );

  // A chain of three (DPO on the DPO on the SFT adapter) exports as one adapter of rank 3 + 2 + 1.
  const third = await trained(svc, {
    config: config('dpo', { learningRate: 5e-2, seed: 9, lora: { r: 1, alpha: 1, targetModules: ['o_proj'] } }),
    datasetId: dpoData,
    parentAdapterId: dpo.id,
  });
  const chainFiles = await svc.exportAdapter(third.id);
  const chain = await svc.importAdapter(chainFiles, 'chain of three');
  check(chain.lora.r === 6 && chain.lora.targetModules.length === 6, `chain config ${JSON.stringify(chain.lora)}`);
  const all3 = await logits(svc, [third.id]);
  const chainAlone = await logits(svc, [chain.id]);
  for (const [i, a] of chainAlone.entries()) {
    const err = maxDiff(a, all3[i]);
    check(err.diff <= 2e-5 * Math.max(1, err.scale), `chain of three: |stacked - stack| ${err.diff} on "${PROMPTS[i]}"`);
  }
});

gpuTest('a GPU error that no call waits for reaches onGpuError with its typed name', async () => {
  const svc = await service();
  const seen: string[] = [];
  await svc.init({ onGpuError: (name, message) => seen.push(`${name}: ${message}`) });
  try {
    // The service's own device (not the test runner's, whose error scopes would catch it): an invalid buffer usage.
    const { device } = internals(svc).gpu;
    device.createBuffer({ size: 4, usage: 0xffff });
    await device.queue.onSubmittedWorkDone(); // lets the device deliver its errors
    for (let i = 0; i < 250 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    check(seen.length === 1 && seen[0].startsWith('GpuValidationError: WebGPU validation error'), `onGpuError got ${JSON.stringify(seen)}`);
  } finally {
    await svc.init();
  }
});
