// The two-stage pattern from the command line, on the tiny Llama fixture: SFT with every hyper-parameter flag set,
// DPO on top of that SFT adapter, eval --json of both objectives, generate. What each writes is read back by the
// formats' own definitions (PEFT's adapter files, TRL's config and metric names), not through webtune's code.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliResult } from './support/cli.ts';
import {
  DPO_ROWS,
  expectOk,
  LLAMA,
  readJson,
  readJsonl,
  readSafetensors,
  SFT_ROWS,
  type Workspace,
  workspace,
} from './support/workspace.ts';

const ws: Workspace = workspace();
const sftData = ws.jsonl('sft.jsonl', SFT_ROWS);
const dpoData = ws.jsonl('dpo.jsonl', DPO_ROWS);
const dpoEval = ws.jsonl('dpo-eval.jsonl', DPO_ROWS.slice(0, 2));
const sftOut = ws.path('sft-adapter');
const dpoOut = ws.path('dpo-adapter');
afterAll(() => ws.remove());

// llama-gqa-bf16: hidden 64, 4 heads x 16 (q_proj out 64), 2 kv heads x 16 (k/v_proj out 32), 2 layers.
const IN = 64;
const OUT: Record<string, number> = { q_proj: 64, k_proj: 32, v_proj: 32, o_proj: 64, gate_proj: 88, up_proj: 88, down_proj: 64 };
const IN_OF: Record<string, number> = { down_proj: 88 };
const PEFT_KEY = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_([AB])\.weight$/;

/** The flags of the SFT run and the TRL names they must come back under in training_config.json. */
const SFT_FLAGS: [flag: string, value: string, trl: string, expected: unknown][] = [
  ['learning-rate', '0.001', 'learning_rate', 0.001],
  ['num-train-epochs', '2', 'num_train_epochs', 2],
  ['max-steps', '3', 'max_steps', 3],
  ['batch-size', '2', 'per_device_train_batch_size', 2],
  ['gradient-accumulation-steps', '1', 'gradient_accumulation_steps', 1],
  ['max-length', '32', 'max_length', 32],
  ['warmup-steps', '1', 'warmup_steps', 1],
  ['lr-scheduler-type', 'cosine', 'lr_scheduler_type', 'cosine'],
  ['weight-decay', '0.01', 'weight_decay', 0.01],
  ['max-grad-norm', '0.5', 'max_grad_norm', 0.5],
  ['seed', '7', 'seed', 7],
  ['logging-steps', '1', 'logging_steps', 1],
  // One of the 4 rows held out, evaluated at step 2 (the only evaluation, so the best kept).
  ['val-size', '1', 'val_size', 1],
  ['eval-strategy', 'steps', 'eval_strategy', 'steps'],
  ['eval-steps', '2', 'eval_steps', 2],
  ['metric-for-best-model', 'eval_loss', 'metric_for_best_model', 'eval_loss'],
];
// --use-rslora and --load-best-model-at-end are bare flags (boolean hyper-parameters off by default).
const LORA_FLAGS = [
  '--load-best-model-at-end',
  '--lora-r',
  '4',
  '--lora-alpha',
  '8',
  '--lora-dropout',
  '0.1',
  '--target-modules',
  'q_proj,v_proj',
  '--use-rslora',
];

/** Checks a PEFT adapter folder by PEFT's format; returns its config and the modules its tensors cover. */
function expectPeftAdapter(dir: string, baseModel: string) {
  const config = readJson(join(dir, 'adapter_config.json'));
  expect(config).toMatchObject({ peft_type: 'LORA', bias: 'none', task_type: 'CAUSAL_LM', base_model_name_or_path: baseModel });
  expect(typeof config.use_rslora).toBe('boolean');
  expect(typeof config.lora_dropout).toBe('number');
  expect(typeof config.lora_alpha).toBe('number');
  const r = config.r as number;
  expect(Number.isInteger(r) && r > 0).toBe(true);
  const st = readSafetensors(join(dir, 'adapter_model.safetensors'));
  const modules = new Set<string>();
  const names = Object.keys(st.header);
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) {
    const m = PEFT_KEY.exec(name);
    expect(m, name).not.toBeNull();
    const [, layer, , module, ab] = m as RegExpExecArray;
    modules.add(module);
    expect(Number(layer)).toBeLessThan(2);
    const { shape } = st.header[name];
    // PEFT: lora_A [r, in], lora_B [out, r].
    expect(shape, name).toEqual(ab === 'A' ? [r, IN_OF[module] ?? IN] : [OUT[module], r]);
    // Every A has its B.
    expect(names).toContain(name.replace(`lora_${ab}`, ab === 'A' ? 'lora_B' : 'lora_A'));
    for (const x of st.f32(name)) expect(Number.isFinite(x)).toBe(true);
  }
  expect([...modules].sort()).toEqual([...(config.target_modules as string[])].sort());
  return { config, st, modules };
}

describe('train --method sft, every hyper-parameter flag given', () => {
  let r: CliResult;
  beforeAll(async () => {
    r = await ws.run([
      'train',
      '--method',
      'sft',
      '--model',
      LLAMA,
      '--data',
      sftData,
      '--out',
      sftOut,
      '--name',
      'tiny sft',
      ...SFT_FLAGS.flatMap(([flag, value]) => [`--${flag}`, value]),
      ...LORA_FLAGS,
      '--json',
    ]);
  });

  it('exits 0 and writes the PEFT folder, training config, metrics and model card', () => {
    expectOk(r);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'training_config.json', 'metrics.jsonl', 'README.md'])
      expect(existsSync(join(sftOut, f)), f).toBe(true);
  });

  it('--json: one object on stdout with the status, the log records and the GPU use: 2 submits and 1 host read a step', () => {
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]);
    expect(result).toMatchObject({ status: 'completed', out: sftOut });
    expect(result.metrics).toEqual(readJsonl(join(sftOut, 'metrics.jsonl')));
    // One micro-batch a step: its forward, loss and backward one submit, the grad norm and AdamW one more, and its
    // outputs with the grad norm one host read (the evaluation at step 2 is not the step's).
    expect(result.gpu.perStep).toMatchObject({ submits: 2, hostReads: 1 });
    expect(result.gpu.perStep.dispatches).toBeGreaterThan(20);
    const { peakBytes, peakTotalBytes } = result.gpu;
    expect(Object.keys(peakBytes).sort()).toEqual(['activations', 'logits', 'lora', 'other', 'weights']);
    for (const kind of ['weights', 'activations', 'lora', 'logits']) expect(peakBytes[kind], kind).toBeGreaterThan(0);
    // LoRA r4 on q and v of 2 layers: A [4, 64] and B [out, 4]; params, gradients and two AdamW moments, float32.
    expect(peakBytes.lora).toBeGreaterThanOrEqual(4 * 4 * 2 * (4 * 64 + 64 * 4 + 4 * 64 + 32 * 4));
    expect(peakTotalBytes).toBeGreaterThanOrEqual(Math.max(...Object.values(peakBytes as Record<string, number>)));
    expect(peakTotalBytes).toBeLessThanOrEqual(Object.values(peakBytes as Record<string, number>).reduce((a, b) => a + b, 0));
  });

  it('adapter_model.safetensors: PEFT keys with lora_A [r, in] and lora_B [out, r] for --lora-r and --target-modules', () => {
    const { st } = expectPeftAdapter(sftOut, 'llama-gqa-bf16');
    const expected: Record<string, number[]> = {};
    for (const layer of [0, 1]) {
      for (const m of ['q_proj', 'v_proj']) {
        const key = `base_model.model.model.layers.${layer}.self_attn.${m}`;
        expected[`${key}.lora_A.weight`] = [4, 64];
        expected[`${key}.lora_B.weight`] = [OUT[m], 4];
      }
    }
    expect(Object.fromEntries(Object.entries(st.header).map(([k, t]) => [k, t.shape]))).toEqual(expected);
    expect(st.metadata).toMatchObject({ format: 'pt' });
    // B starts at zero; three steps at lr 1e-3 must have moved every B.
    for (const name of Object.keys(expected).filter((k) => k.includes('lora_B')))
      expect(
        st.f32(name).some((x) => x !== 0),
        `${name} moved`,
      ).toBe(true);
  });

  it("adapter_config.json: PEFT's fields with the LoRA flags' values", () => {
    const config = readJson(join(sftOut, 'adapter_config.json'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.1,
      target_modules: ['q_proj', 'v_proj'],
      bias: 'none',
      task_type: 'CAUSAL_LM',
      use_rslora: true,
      base_model_name_or_path: 'llama-gqa-bf16',
    });
  });

  it("training_config.json: TRL's names, each equal to the flag given", () => {
    const config = readJson(join(sftOut, 'training_config.json'));
    for (const [flag, , trl, expected] of SFT_FLAGS) expect(config[trl], `--${flag} -> ${trl}`).toEqual(expected);
    expect(config.peft_config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.1,
      target_modules: ['q_proj', 'v_proj'],
      use_rslora: true,
      bias: 'none',
    });
    expect(config.trainer).toBe('SFTTrainer');
    // What TRL needs told to train as webtune did: cut at max_length keeping the start, loss on completions only (and on every assistant turn of "messages" rows).
    expect(config).toMatchObject({ truncation_mode: 'keep_start', completion_only_loss: true, assistant_only_loss: true, packing: false });
    expect(config.data_preparation).toMatchObject({ format: 'prompt-completion' });
  });

  it('training_config.json: the held-out row by its line, and the best evaluation kept', () => {
    const config = readJson(join(sftOut, 'training_config.json'));
    expect(config).toMatchObject({ load_best_model_at_end: true, greater_is_better: false, best_global_step: 2 });
    expect(config.eval_dataset).toMatchObject({ held_out_from: 'sft.jsonl', val_size: 1, seed: 7, rows: 1 });
    const { lines } = config.eval_dataset as { lines: number[] };
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toBeLessThanOrEqual(SFT_ROWS.length);
  });

  it('metrics.jsonl: one eval_loss line at step 2 (--eval-steps 2), equal to best_metric', () => {
    const evals = readJsonl(join(sftOut, 'metrics.jsonl')).filter((m) => 'eval_loss' in m);
    expect(evals).toHaveLength(1);
    expect(Object.keys(evals[0]).sort()).toEqual(['epoch', 'eval_loss', 'step']);
    expect(evals[0]).toMatchObject({ step: 2, epoch: 1 });
    expect(evals[0].eval_loss).toBe(readJson(join(sftOut, 'training_config.json')).best_metric);
    expect(r.stderr).toMatch(/^eval at step 2 {2}eval_loss \d\.\d+$/m);
  });

  it('metrics.jsonl: one object per logged step (--max-steps 3, --logging-steps 1) with TRL metric names', () => {
    const metrics = readJsonl(join(sftOut, 'metrics.jsonl')).filter((m) => !('eval_loss' in m));
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
    for (const m of metrics) {
      for (const k of ['loss', 'grad_norm', 'learning_rate', 'epoch', 'num_tokens']) {
        expect(typeof m[k], `${k} at step ${m.step}`).toBe('number');
        expect(Number.isFinite(m[k])).toBe(true);
      }
      expect(m.loss).toBeGreaterThan(0);
    }
    // 3 rows (one held out) at batch 2: two steps per epoch.
    expect(metrics.map((m) => m.epoch)).toEqual([0.5, 1, 1.5]);
    // Warm-up to the peak at step 1 of 3, cosine down to 0 at the end (the rate after each step, as TRL logs it).
    expect(metrics[0].learning_rate).toBeCloseTo(0.001, 12);
    expect(metrics[1].learning_rate).toBeCloseTo(0.0005, 12);
    expect(metrics[2].learning_rate).toBeCloseTo(0, 12);
    expect(metrics[1].num_tokens).toBeGreaterThan(metrics[0].num_tokens);
  });

  it('README.md: a model card for the adapter', () => {
    const card = readFileSync(join(sftOut, 'README.md'), 'utf8');
    expect(card.startsWith('---\nbase_model: llama-gqa-bf16\nlibrary_name: peft\n')).toBe(true);
    expect(card).toContain('# tiny sft');
    expect(card).toContain('r=4, lora_alpha=8, lora_dropout=0.1, target_modules=q_proj, v_proj, use_rslora=true');
  });

  it('stderr (not a TTY) has one plain line per logged step', () => {
    const steps = r.stderr.split('\n').filter((l) => l.startsWith('step '));
    expect(steps).toHaveLength(3);
    for (const [i, l] of steps.entries())
      expect(l).toMatch(new RegExp(`^step ${i + 1} {2}loss \\d\\.\\d+ {2}grad_norm [\\d.e+-]+ {2}learning_rate `));
    // No redraws and no escape sequences in a log file.
    expect(r.stderr).not.toContain('\r');
    expect(r.stderr).not.toContain('\u001b');
    expect(r.stderr).toContain('data: sft.jsonl (prompt-completion): 4 rows kept, 0 rejected');
    expect(r.stderr).toMatch(/evaluation on 1 rows held out of sft\.jsonl \(val_size 1, seed 7\): lines \d/);
    expect(r.stderr).toContain(`wrote ${sftOut}`);
  });
});

/** DPO on top of the SFT adapter, default LoRA (a different rank and modules from the SFT adapter under it); --out apart. */
const dpoArgs = [
  'train',
  '--method',
  'dpo',
  '--model',
  LLAMA,
  '--adapter',
  sftOut,
  '--data',
  dpoData,
  '--max-steps',
  '2',
  '--max-length',
  '32',
  '--batch-size',
  '2',
  '--logging-steps',
  '1',
  '--beta',
  '0.2',
  '--eval-data',
  dpoEval,
  '--eval-strategy',
  'steps',
  '--eval-steps',
  '1',
];

describe('train --method dpo --adapter <the SFT adapter>', () => {
  let r: CliResult;
  beforeAll(async () => {
    r = await ws.run([...dpoArgs, '--out', dpoOut]);
  });

  it('exits 0 and writes a PEFT adapter', () => {
    expectOk(r);
    expectPeftAdapter(dpoOut, 'llama-gqa-bf16');
    for (const f of ['training_config.json', 'metrics.jsonl', 'README.md']) expect(existsSync(join(dpoOut, f)), f).toBe(true);
    const config = readJson(join(dpoOut, 'training_config.json'));
    expect(config).toMatchObject({ beta: 0.2, max_steps: 2, per_device_train_batch_size: 2, max_length: 32 });
    expect(config).toMatchObject({
      truncation_mode: 'keep_start',
      max_prompt_length: null,
      max_completion_length: null,
      disable_dropout: false,
    });
  });

  it("--eval-data: an eval line per step with DPO's eval metrics, the file in training_config.json", () => {
    const evals = readJsonl(join(dpoOut, 'metrics.jsonl')).filter((m) => 'eval_loss' in m);
    expect(evals.map((m) => m.step)).toEqual([1, 2]);
    const keys = ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
    for (const m of evals) expect(Object.keys(m).sort()).toEqual(['epoch', 'step', ...keys.map((k) => `eval_${k}`)].sort());
    // After one update from the reference, the held-out loss is no longer exactly ln 2.
    expect(evals[0].eval_loss).not.toBe(Math.LN2);
    expect(readJson(join(dpoOut, 'training_config.json')).eval_dataset).toEqual({ file: 'dpo-eval.jsonl', format: 'standard', rows: 2 });
    expect(r.stderr).toMatch(/^eval at step 1 {2}eval_loss [\d.]+ {2}eval_rewards\/accuracies [\d.]+ {2}eval_rewards\/margins /m);
  });

  it("metrics.jsonl has DPO's metrics, and the first loss is ln 2 (the policy starts as the reference)", () => {
    const metrics = readJsonl(join(dpoOut, 'metrics.jsonl')).filter((m) => !('eval_loss' in m));
    expect(metrics.map((m) => m.step)).toEqual([1, 2]);
    const keys = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'];
    for (const m of metrics) {
      for (const k of ['loss', 'grad_norm', 'learning_rate', 'epoch', 'num_tokens', ...keys]) {
        expect(typeof m[k], `${k} at step ${m.step}`).toBe('number');
        expect(Number.isFinite(m[k])).toBe(true);
      }
      expect(m['logps/chosen']).toBeLessThan(0);
      expect(m['rewards/margins']).toBeCloseTo(m['rewards/chosen'] - m['rewards/rejected'], 6);
    }
    expect(Math.abs(metrics[0].loss - Math.LN2)).toBeLessThan(1e-5);
    expect(Math.abs(metrics[0]['rewards/chosen'])).toBeLessThan(1e-5);
    expect(Math.abs(metrics[0]['rewards/rejected'])).toBeLessThan(1e-5);
    expect(r.stderr).toMatch(/^step 1 {2}loss 0\.693 {2}rewards\/accuracies /m);
  });

  it('also writes stacked/: one adapter of rank r_sft + r_dpo that applies both to the base model', () => {
    const stacked = join(dpoOut, 'stacked');
    expectPeftAdapter(stacked, 'llama-gqa-bf16');
    const rs = readJson(join(sftOut, 'adapter_config.json')).r as number;
    const rd = readJson(join(dpoOut, 'adapter_config.json')).r as number;
    expect(readJson(join(stacked, 'adapter_config.json')).r).toBe(rs + rd);
  });

  it('eval sees the same policy through --ref-adapter sft --adapter dpo as through stacked/ alone', async () => {
    const common = ['--method', 'dpo', '--model', LLAMA, '--data', dpoData, '--max-length', '32', '--batch-size', '2', '--json'];
    const [layered, stacked] = await Promise.all([
      ws.run(['eval', ...common, '--ref-adapter', sftOut, '--adapter', dpoOut]),
      ws.run(['eval', ...common, '--adapter', join(dpoOut, 'stacked')]),
    ]);
    expectOk(layered);
    expectOk(stacked);
    const a = JSON.parse(layered.stdout);
    const b = JSON.parse(stacked.stdout);
    // Policy log-probs: base + SFT + DPO either way (the stacked B columns are rounded once to float32).
    expect(b['logps/chosen']).toBeCloseTo(a['logps/chosen'], 3);
    expect(b['logps/rejected']).toBeCloseTo(a['logps/rejected'], 3);
  });
});

describe('train --runtime dawn: the same DPO run in this Node process on Dawn, no browser', () => {
  const dawnOut = ws.path('dpo-adapter-dawn');
  let r: CliResult;
  beforeAll(async () => {
    r = await ws.run([...dpoArgs, '--out', dawnOut, '--runtime', 'dawn', '--json']);
  });

  it('exits 0 and writes the same files, the stacked adapter among them', () => {
    expectOk(r);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', out: dawnOut });
    const files = (dir: string) =>
      [
        'adapter_model.safetensors',
        'adapter_config.json',
        'training_config.json',
        'metrics.jsonl',
        'README.md',
        'stacked/adapter_model.safetensors',
      ].filter((f) => existsSync(join(dir, f)));
    expect(files(dawnOut)).toEqual(files(dpoOut));
    expect(readJson(join(dawnOut, 'adapter_config.json'))).toEqual(readJson(join(dpoOut, 'adapter_config.json')));
  });

  it("the browser run's numbers: the same WGSL on the same SwiftShader, through another build of Dawn", () => {
    const [dawn, browser] = [readJsonl(join(dawnOut, 'metrics.jsonl')), readJsonl(join(dpoOut, 'metrics.jsonl'))];
    expect(dawn.map((m) => Object.keys(m).sort())).toEqual(browser.map((m) => Object.keys(m).sort()));
    for (const [i, m] of dawn.entries())
      for (const [k, v] of Object.entries(m)) expect(v, `metrics line ${i + 1} ${k}`).toBeCloseTo(browser[i][k] as number, 6);
    for (const sub of ['', 'stacked']) {
      const [a, b] = [
        readSafetensors(join(dawnOut, sub, 'adapter_model.safetensors')),
        readSafetensors(join(dpoOut, sub, 'adapter_model.safetensors')),
      ];
      expect(Object.keys(a.header).sort()).toEqual(Object.keys(b.header).sort());
      for (const name of Object.keys(b.header)) {
        const [x, y] = [a.f32(name), b.f32(name)];
        for (let j = 0; j < y.length; j++) expect(x[j], `${sub}/${name}[${j}]`).toBeCloseTo(y[j], 6);
      }
    }
  });
});

describe('eval --json', () => {
  /** stdout is exactly one JSON object and a newline. */
  function onlyJson(r: CliResult): Record<string, number> {
    expectOk(r);
    expect(r.stdout.endsWith('}\n')).toBe(true);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const value = JSON.parse(r.stdout);
    expect(value).toBeTypeOf('object');
    for (const [k, v] of Object.entries(value)) expect(Number.isFinite(v), k).toBe(true);
    return value;
  }

  it('DPO: loss, rewards/* and logps/* of the SFT adapter against the base model', async () => {
    const r = await ws.run([
      'eval',
      '--method',
      'dpo',
      '--model',
      LLAMA,
      '--data',
      dpoData,
      '--adapter',
      sftOut,
      '--max-length',
      '32',
      '--batch-size',
      '2',
      '--json',
    ]);
    const m = onlyJson(r);
    expect(Object.keys(m).sort()).toEqual(
      ['loss', 'rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'].sort(),
    );
    expect(m.loss).toBeGreaterThan(0);
    expect(m['rewards/accuracies']).toBeGreaterThanOrEqual(0);
    expect(m['rewards/accuracies']).toBeLessThanOrEqual(1);
    expect(m['rewards/margins']).toBeCloseTo(m['rewards/chosen'] - m['rewards/rejected'], 9);
    // The adapter moved the policy away from the reference.
    expect(Math.abs(m['rewards/chosen']) + Math.abs(m['rewards/rejected'])).toBeGreaterThan(0);
  });

  it('SFT: loss and num_tokens; on the held-out row, the eval_loss the run logged for the adapter it kept', async () => {
    const { lines } = readJson(join(sftOut, 'training_config.json')).eval_dataset as { lines: number[] };
    const heldOut = ws.jsonl('held-out.jsonl', [SFT_ROWS[lines[0] - 1]]);
    const args = ['eval', '--method', 'sft', '--model', LLAMA, '--data', heldOut, '--adapter', sftOut, '--max-length', '32', '--json'];
    const m = onlyJson(await ws.run(args));
    expect(Object.keys(m).sort()).toEqual(['loss', 'num_tokens']);
    expect(m.loss).toBeGreaterThan(0);
    expect(Number.isInteger(m.num_tokens) && m.num_tokens > 0).toBe(true);
    const [logged] = readJsonl(join(sftOut, 'metrics.jsonl')).filter((x) => 'eval_loss' in x);
    expect(m.loss).toBe(logged.eval_loss);
    // As an adapter trained with --completion-only-loss false is measured: the prompt's tokens under the loss too.
    const whole = onlyJson(await ws.run([...args, '--completion-only-loss', 'false']));
    expect(whole.num_tokens).toBeGreaterThan(m.num_tokens);
    expect(whole.loss).not.toBe(m.loss);
  });
});

describe('generate', () => {
  it('prints text and exits 0; --max-new-tokens bounds it', async () => {
    const r = await ws.run(['generate', '--model', LLAMA, '--adapter', sftOut, '--prompt', 'The cat', '--max-new-tokens', '3']);
    expectOk(r);
    expect(r.stdout.endsWith('\n')).toBe(true);
    const text = r.stdout.slice(0, -1);
    expect(text.length).toBeGreaterThan(0);
    // Byte-level BPE: a token decodes to at most as many characters as its longest vocabulary entry has bytes.
    const vocab = JSON.parse(readFileSync(join(LLAMA, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
    const longest = Math.max(...Object.keys(vocab).map((t) => t.length));
    expect([...text].length).toBeLessThanOrEqual(3 * longest);
  });
});
