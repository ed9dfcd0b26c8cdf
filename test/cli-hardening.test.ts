// Hostile files and faults the trainer must name, through the CLI as a user runs it: a sharded checkpoint holding a
// tensor the model does not use (warned, named, as transformers warns "weights not used"); a stage-one adapter whose
// finite numbers overflow float32 in the forward (the run stops at its first step naming the operation and tensor
// where the first non-finite value appeared); an adapter holding NaN (refused at import, naming the tensor); a GPU
// allocation that fails in the first step (the sizes and what to lower, no step logged, no checkpoint); --resume with
// nothing to resume. Each writes nothing and leaves no browser running.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GPU_FAULT_VARIABLE, PAGE_FAULT_VARIABLE } from '../apps/cli/src/test-faults.ts';
import { parseSafetensors, weightToFloat32, writeSafetensors } from '../packages/trainer/src/model/safetensors.ts';
import { cliProcess, expectNoBrowserLeft } from './support/cli.ts';
import { cleanEnv, DPO_ROWS, expectRejection, LLAMA, MODEL_FILES, SFT_ROWS, workspace } from './support/workspace.ts';

const ws = workspace();
afterAll(() => ws.remove());

/** The fixture as two shards and an index; the second shard holds `score.weight`, which no Llama weight takes. */
function shardedWithExtra(): string {
  const dir = ws.path('sharded');
  mkdirSync(dir);
  for (const f of MODEL_FILES.filter((f) => f !== 'model.safetensors')) copyFileSync(join(LLAMA, f), join(dir, f));
  const first = 'model-00001-of-00002.safetensors';
  const second = 'model-00002-of-00002.safetensors';
  copyFileSync(join(LLAMA, 'model.safetensors'), join(dir, first));
  writeFileSync(join(dir, second), writeSafetensors([{ name: 'score.weight', shape: [2, 64], data: new Float32Array(128) }]));
  const names = [...parseSafetensors(first, new Uint8Array(readFileSync(join(dir, first)))).tensors.keys()];
  const weightMap = Object.fromEntries([...names.map((n) => [n, first]), ['score.weight', second]]);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

/** The fixture's adapter in folder `name`, with `damage` applied to the data of each tensor whose name has `part`. */
function damagedAdapter(name: string, part: string, damage: (data: Float32Array) => void): string {
  const from = join(LLAMA, 'adapter');
  const dir = ws.path(name);
  mkdirSync(dir);
  copyFileSync(join(from, 'adapter_config.json'), join(dir, 'adapter_config.json'));
  const bytes = new Uint8Array(readFileSync(join(from, 'adapter_model.safetensors')));
  const parsed = parseSafetensors('adapter_model.safetensors', bytes);
  const tensors = [...parsed.tensors.values()].map((t) => {
    const data = weightToFloat32('adapter_model.safetensors', bytes, parsed.dataOffset, t);
    if (t.name.includes(part)) damage(data);
    return { name: t.name, shape: t.shape, data };
  });
  writeFileSync(join(dir, 'adapter_model.safetensors'), writeSafetensors(tensors));
  return dir;
}
/** Layer 1's v_proj A and B at 1e30: finite (accepted at load), but z B^T overflows. */
const overflowing = damagedAdapter('overflowing-adapter', 'layers.1.self_attn.v_proj', (d) => d.fill(1e30));

describe('named, never computed through', () => {
  it('an unused tensor is warned by name; an overflow stops step 1 naming its operation and tensor; nothing is written', async () => {
    const out = ws.path('out');
    const profile = ws.path('profile');
    const data = ws.jsonl('dpo.jsonl', DPO_ROWS);
    const args = ['train', '--method', 'dpo', '--model', shardedWithExtra(), '--data', data, '--out', out];
    const tiny = ['--adapter', overflowing, '--max-steps', '2', '--max-length', '32', '--batch-size', '2'];
    const r = await cliProcess([...args, ...tiny], cleanEnv({ WEBTUNE_PROFILE_DIR: profile })).done;
    expect(r.stderr.split('\n')).toContain(
      'warning: 1 weight(s) of the checkpoint were not used when initializing LlamaForCausalLM: score.weight. They are ' +
        'left out, as transformers leaves them out; if you expected them to be used, the checkpoint is not the model its config.json describes.',
    );
    // The stage-one adapter is part of the reference: its forward (no layer names on a forward-only step's buffers)
    // is where the overflow begins, at layer 1's v_proj LoRA B matmul.
    expectRejection(
      r,
      'train',
      1,
      /^Training stopped at step 1: the loss is NaN\. No step was completed, so nothing is saved; no update was made yet, so the learning rate is not the cause: check the model, the stage-one adapter and the data/,
      /It first appeared at operation \d+ of \d+, "L1\.v_proj lora_B", which wrote (NaN|-?Infinity) into activation v \(element \d+ of \d+\)\.$/,
    );
    expect(existsSync(out), 'a run that kept no step wrote --out').toBe(false);
    await expectNoBrowserLeft(profile);
  });

  it('a config.json of absurd size is refused from the config alone, with the memory it would need; nothing written', async () => {
    const model = ws.path('absurd');
    mkdirSync(model);
    for (const f of MODEL_FILES) copyFileSync(join(LLAMA, f), join(model, f));
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    writeFileSync(join(model, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 10_000_000 }));
    const out = ws.path('absurd-out');
    const profile = ws.path('profile-absurd');
    const data = ws.jsonl('sft.jsonl', SFT_ROWS);
    const args = ['train', '--method', 'sft', '--model', model, '--data', data, '--out', out, '--max-steps', '1'];
    const r = await cliProcess(args, cleanEnv({ WEBTUNE_PROFILE_DIR: profile })).done;
    expectRejection(
      r,
      'train',
      1,
      `${join(model, 'config.json')}`,
      /"num_hidden_layers" 10000000 and "vocab_size" \d+ make a model of at least [\d.e+]+ parameters, whose weights alone need [\d.]+ [KMGTP]iB in bfloat16/,
      'Check these fields, or pick a smaller model.',
    );
    expect(existsSync(out)).toBe(false);
    await expectNoBrowserLeft(profile);
  });

  it('eval and generate with that adapter: refused when the numbers overflow, never `null` metrics or NUL characters', async () => {
    const profile = ws.path('profile-overflow');
    const env = cleanEnv({ WEBTUNE_PROFILE_DIR: profile });
    const data = ws.jsonl('sft-overflow.jsonl', SFT_ROWS);
    const evaluated = await cliProcess(
      ['eval', '--method', 'sft', '--model', LLAMA, '--data', data, '--adapter', overflowing, '--json'],
      env,
    ).done;
    expectRejection(
      evaluated,
      'eval',
      1,
      "The evaluation gave loss NaN: the model with these adapters computes numbers past float32's range on these rows. An adapter " +
        'whose weights are far larger than training gives (a damaged or diverged one) does this; evaluate without it to check the model. Nothing is reported.',
    );
    const generated = await cliProcess(
      ['generate', '--model', LLAMA, '--adapter', overflowing, '--prompt', 'Hello', '--max-new-tokens', '4'],
      env,
    ).done;
    expectRejection(generated, 'generate', 1, /^Generation stopped at new token 1: \d+ of the \d+ logits are NaN or infinite/);
    expect(generated.stdout).not.toContain('\0');
    await expectNoBrowserLeft(profile);
  });

  it('an adapter holding NaN is refused at import, naming the tensor and the element; nothing is written', async () => {
    const adapter = damagedAdapter('nan-adapter', 'layers.0.mlp.down_proj.lora_B', (d) => {
      d[5] = Number.NaN;
    });
    const out = ws.path('nan-out');
    const profile = ws.path('profile-nan');
    const data = ws.jsonl('dpo-nan.jsonl', DPO_ROWS);
    const args = ['train', '--method', 'dpo', '--model', LLAMA, '--data', data, '--out', out, '--adapter', adapter, '--max-steps', '1'];
    const r = await cliProcess(args, cleanEnv({ WEBTUNE_PROFILE_DIR: profile })).done;
    expectRejection(
      r,
      'train',
      1,
      `--adapter ${adapter} (trained on llama-gqa-bf16): adapter_model.safetensors: tensor "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight": holds NaN at element 5 of`,
      '(1 non-finite in all): the weights are damaged or come from a diverged run; use another checkpoint',
    );
    expect(r.stderr).not.toMatch(/^step /m);
    expect(existsSync(out)).toBe(false);
    await expectNoBrowserLeft(profile);
  });
});

describe('a GPU allocation that fails in the first step, then --resume with nothing to resume', () => {
  const out = ws.path('oom-out');
  const profile = ws.path('profile-oom');
  const data = ws.jsonl('sft-oom.jsonl', SFT_ROWS);
  const args = ['train', '--method', 'sft', '--model', LLAMA, '--data', data, '--out', out, '--max-length', '32', '--batch-size', '2'];

  it('out of memory in step 1: the sizes and what to lower, no step logged, nothing written, no checkpoint, no browser', async () => {
    // The logits (vocabulary x tokens) are the first step's largest activation: where a real run runs out first.
    // --save-minutes this small would checkpoint step 1, had it ended clean.
    const env = cleanEnv({ WEBTUNE_PROFILE_DIR: profile, [GPU_FAULT_VARIABLE]: 'out-of-memory:^logits$' });
    const r = await cliProcess([...args, '--max-steps', '2', '--save-minutes', '0.000001'], env).done;
    expectRejection(
      r,
      'train',
      1,
      "Out of GPU memory during the SFT run's buffers and first step (batch size 2, max_length 32, LoRA r 16) " +
        `(injected by ${GPU_FAULT_VARIABLE}: no memory for buffer "logits" of 61440 bytes). Use a smaller batch size or ` +
        'max length, a smaller LoRA rank, or a smaller model; closing other GPU-heavy tabs and apps also frees memory.',
    );
    expect(r.stderr).not.toMatch(/^(step|checkpoint|log) /m);
    expect(existsSync(out)).toBe(false);
    await expectNoBrowserLeft(profile);
  });

  it('--resume then finds no interrupted run (the failed step saved none): exit 2 before the model loads', async () => {
    // The page's script refused once, as vite refuses it while another command rebuilds its dependency cache: the
    // page is reloaded and the command goes on.
    const env = cleanEnv({ WEBTUNE_PROFILE_DIR: profile, [PAGE_FAULT_VARIABLE]: 'outdated-dep:1' });
    const r = await cliProcess([...args, '--max-steps', '2', '--resume'], env).done;
    expect(r.stderr).toContain('504 (Outdated Optimize Dep)');
    expectRejection(
      r,
      'train',
      2,
      `--resume: no interrupted run of --out ${out} in the browser profile ${profile}; run without --resume to start`,
    );
    expect(r.stderr).not.toContain('model:');
    expect(existsSync(out)).toBe(false);
    await expectNoBrowserLeft(profile);
  });
});

describe("the trainer's page that does not start", () => {
  it('its script refused twice: one line saying so and what to do, exit 1, no browser left, nothing written', async () => {
    const out = ws.path('no-page-out');
    const profile = ws.path('profile-no-page');
    const data = ws.jsonl('sft-no-page.jsonl', SFT_ROWS);
    const env = cleanEnv({ WEBTUNE_PROFILE_DIR: profile, [PAGE_FAULT_VARIABLE]: 'outdated-dep:2' });
    const r = await cliProcess(['train', '--method', 'sft', '--model', LLAMA, '--data', data, '--out', out, '--max-steps', '1'], env).done;
    expectRejection(
      r,
      'train',
      1,
      "the trainer's page did not start: its script failed to load twice (see the page's errors above, or run with --verbose). If the page's build in node_modules/.cache/webtune-cli-page looks damaged, delete that folder and run the command again.",
    );
    expect(existsSync(out)).toBe(false);
    await expectNoBrowserLeft(profile);
  });
});
