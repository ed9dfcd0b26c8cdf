import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { type LoraConfig, LoraError, modulePath, peftKey } from '../model/lora.ts';
import { parseSafetensors, SafetensorsError, writeSafetensors } from '../model/safetensors.ts';
import type { AdapterRecord } from './db.ts';
import { AdapterFilesError, adapterFiles, adapterModelCard, importAdapterFiles } from './export.ts';
import { parseAdapterConfig } from './peft.ts';
import { unzip, zip } from './zip.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const HAS_PYYAML = spawnSync('python3', ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0;
if (!HAS_PYYAML) process.stderr.write('SKIPPED export.test.ts YAML front-matter check: no python3 with PyYAML\n');

const lora: LoraConfig = { r: 2, alpha: 4, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false };

function record(overrides: Partial<AdapterRecord> = {}): AdapterRecord {
  const tensors: AdapterRecord['tensors'] = [];
  let seed = 1;
  const next = () => {
    seed = (seed * 16807) % 2147483647;
    return (seed / 2147483647) * 2 - 1;
  };
  const fill = (n: number) => Float32Array.from({ length: n }, next);
  for (let layer = 0; layer < 2; layer++) {
    for (const [target, inF, outF] of [
      ['q_proj', 8, 8],
      ['v_proj', 8, 4],
    ] as const) {
      tensors.push({ name: peftKey(modulePath(layer, target), 'A'), shape: [lora.r, inF], data: fill(lora.r * inF) });
      tensors.push({ name: peftKey(modulePath(layer, target), 'B'), shape: [outF, lora.r], data: fill(outF * lora.r) });
    }
  }
  return {
    id: 'a1',
    name: 'Tiny helpful SFT',
    createdAt: Date.UTC(2025, 0, 2),
    updatedAt: Date.UTC(2025, 0, 3),
    baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    method: 'sft',
    parentId: null,
    lora,
    trainingConfig: {
      learning_rate: 0.0002,
      num_train_epochs: 3,
      per_device_train_batch_size: 4,
      max_length: 512,
      seed: 42,
      lr_scheduler_type: 'cosine',
    },
    metrics: [
      { step: 1, loss: 2.5, grad_norm: 1.25, learning_rate: 0.0002, epoch: 0.1 },
      { step: 30, loss: 1.2345678, learning_rate: 0.0001, epoch: 3 },
    ],
    tensors,
    ...overrides,
  };
}

const asMap = (files: { name: string; data: Uint8Array }[], prefix = '') => new Map(files.map((f) => [prefix + f.name, f.data]));

function errorOf(fn: () => unknown, type: new (...args: never[]) => Error = AdapterFilesError): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return (e as Error).message;
  }
  throw new Error(`expected a ${type.name}`);
}

describe('adapterFiles', () => {
  it('writes the four files of a PEFT folder', () => {
    const rec = record();
    const files = adapterFiles(rec);
    expect(files.map((f) => f.name)).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'README.md', 'training_config.json']);
    const byName = asMap(files);

    const config = JSON.parse(dec.decode(byName.get('adapter_config.json')));
    expect(config).toMatchObject({ peft_type: 'LORA', r: 2, lora_alpha: 4, task_type: 'CAUSAL_LM', bias: 'none', use_rslora: false });
    expect(config.base_model_name_or_path).toBe(rec.baseModel);
    expect(parseAdapterConfig(config).lora).toEqual(lora);

    const st = parseSafetensors('adapter_model.safetensors', byName.get('adapter_model.safetensors')!);
    expect([...st.tensors.keys()]).toEqual(rec.tensors.map((t) => t.name).sort());
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')?.shape).toEqual([4, 2]);

    expect(JSON.parse(dec.decode(byName.get('training_config.json')))).toEqual(rec.trainingConfig);
    expect(dec.decode(byName.get('training_config.json'))).toContain('\n  "learning_rate": 0.0002');
  });

  it('writes a Hugging Face model card: front matter, training, final metrics, PEFT usage', () => {
    const card = dec.decode(asMap(adapterFiles(record())).get('README.md'));
    expect(card.startsWith('---\nbase_model: HuggingFaceTB/SmolLM2-135M-Instruct\nlibrary_name: peft\n')).toBe(true);
    expect(card).toContain('tags:\n- webtune\n- lora\n- sft\n- trl\n---\n');
    expect(card).toContain('# Tiny helpful SFT');
    expect(card).toContain('supervised fine-tuning (SFT)');
    expect(card).toContain('r=2, lora_alpha=4, lora_dropout=0.05, target_modules=q_proj, v_proj');
    expect(card).toContain('| learning_rate | 0.0002 |');
    expect(card).toContain('| lr_scheduler_type | cosine |');
    expect(card).toContain('## Final metrics (step 30)');
    expect(card).toContain('| loss | 1.23457 |');
    expect(card).toContain('| grad_norm | 1.25 |'); // last value logged, even if not on the last row
    expect(card).toContain('PeftModel.from_pretrained(base, "path/to/this-adapter")');
    expect(card).toContain('AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")');
    expect(card).not.toContain('merge_and_unload');
  });

  it('tells how to stack a DPO adapter on the SFT adapter it was trained on', () => {
    const rec = record({ id: 'b2', method: 'dpo', parentId: 'a1', name: 'Tiny DPO', metrics: [] });
    const card = adapterModelCard(rec, { parent: { id: 'a1', name: 'Tiny helpful SFT' } });
    expect(card).toContain('- dpo\n');
    expect(card).toContain('direct preference optimisation (DPO)');
    expect(card).toContain('on top of the SFT adapter "Tiny helpful SFT" (a1)');
    expect(card).toContain('PeftModel.from_pretrained(base, "path/to/sft-adapter").merge_and_unload()');
    expect(card).not.toContain('Final metrics');
    // A given card replaces the generated one.
    expect(dec.decode(asMap(adapterFiles(rec, '# mine\n')).get('README.md'))).toBe('# mine\n');
  });

  // Four Python interpreters started one after another: seconds on a busy 2-core machine, past vitest's 5 s default.
  it.skipIf(!HAS_PYYAML)('front matter parses as YAML, with awkward names quoted', { timeout: 30_000 }, () => {
    for (const base of ['HuggingFaceTB/SmolLM2-135M-Instruct', 'my model: v2 # local', 'true', '']) {
      const card = adapterModelCard(record({ baseModel: base }));
      const front = card.split('---\n')[1];
      const parsed = JSON.parse(
        execFileSync('python3', ['-c', 'import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], {
          input: front,
          encoding: 'utf8',
        }),
      );
      expect(parsed.library_name).toBe('peft');
      expect(parsed.tags).toEqual(['webtune', 'lora', 'sft', 'trl']);
      if (base) expect(parsed.base_model).toBe(base);
      else expect(parsed.base_model).toBeUndefined();
    }
  });
});

describe('the model card and the Hub', () => {
  it("does not point to a Hub page for a base model that is not a Hub id (the studio's demo model)", () => {
    const card = adapterModelCard(record({ baseModel: 'webtune-demo' }));
    expect(card).not.toContain('huggingface.co/');
    expect(card).toContain('A LoRA adapter for `webtune-demo` (not a Hugging Face Hub model)');
    expect(card).toContain('AutoModelForCausalLM.from_pretrained("path/to/webtune-demo")');
    expect(card).not.toContain('from_pretrained("webtune-demo")');
  });

  it('links a Hub id (owner/name) to its Hub page', () => {
    const card = adapterModelCard(record());
    expect(card).toContain('[HuggingFaceTB/SmolLM2-135M-Instruct](https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct)');
  });
});

describe('importAdapterFiles: metrics', () => {
  it("keeps the final metrics of webtune's own export (its model card's table)", () => {
    const got = importAdapterFiles(asMap(adapterFiles(record()), 'tiny/'));
    // The last value of each metric, as the card rounds it, at the step of the last row.
    expect(got.metrics).toEqual([{ step: 30, loss: 1.23457, grad_norm: 1.25, learning_rate: 0.0001, epoch: 3 }]);
  });

  it("keeps a Trainer checkpoint's log_history (trainer_state.json) before the card", () => {
    const files = asMap(adapterFiles(record()));
    const state = {
      global_step: 2,
      log_history: [
        { step: 1, loss: 2, epoch: 0.5 },
        { step: 2, loss: 1.5, train_runtime: 3, note: 'x' },
      ],
    };
    files.set('trainer_state.json', enc.encode(JSON.stringify(state)));
    expect(importAdapterFiles(files).metrics).toEqual([
      { step: 1, loss: 2, epoch: 0.5 },
      { step: 2, loss: 1.5, train_runtime: 3 },
    ]);
  });

  it('has none when the folder carries none, and names a trainer_state.json it cannot read', () => {
    const files = asMap(adapterFiles(record(), '# my own card\n\nNo table here.\n'));
    expect(importAdapterFiles(files).metrics).toEqual([]);
    files.set('trainer_state.json', enc.encode('{"log_history": '));
    expect(errorOf(() => importAdapterFiles(files))).toMatch(/^trainer_state.json is not valid JSON/);
    files.set('trainer_state.json', enc.encode('{"global_step": 3}'));
    expect(errorOf(() => importAdapterFiles(files))).toBe('trainer_state.json has no "log_history" list (the Trainer\'s logged metrics)');
  });
});

describe('importAdapterFiles', () => {
  it('round-trips an exported adapter, also through a zip with a folder prefix', () => {
    const rec = record();
    for (const files of [asMap(adapterFiles(rec)), unzip(zip(adapterFiles(rec).map((f) => ({ ...f, name: `my-adapter/${f.name}` }))))]) {
      const got = importAdapterFiles(files);
      expect(got.lora).toEqual(lora);
      expect(got.baseModel).toBe(rec.baseModel);
      expect(got.trainingConfig).toEqual(rec.trainingConfig);
      expect(got.tensors.size).toBe(rec.tensors.length);
      for (const t of rec.tensors) {
        expect(got.tensors.get(t.name)?.shape).toEqual(t.shape);
        expect(got.tensors.get(t.name)?.data).toEqual(t.data);
      }
    }
  });

  it('ignores macOS zip clutter and treats training_config.json as optional', () => {
    const files = asMap(adapterFiles(record()));
    files.delete('training_config.json');
    files.set('__MACOSX/._adapter_config.json', new Uint8Array([0, 5, 22]));
    files.set('._adapter_model.safetensors', new Uint8Array([1]));
    const got = importAdapterFiles(files);
    expect(got.trainingConfig).toBeUndefined();
    expect('trainingConfig' in got).toBe(false);
  });

  it('names the missing file', () => {
    const files = asMap(adapterFiles(record()));
    const noConfig = new Map(files);
    noConfig.delete('adapter_config.json');
    expect(errorOf(() => importAdapterFiles(noConfig))).toMatch(
      /^adapter_config.json is missing: a PEFT adapter folder holds .*got: adapter_model.safetensors, README.md/,
    );
    const noWeights = new Map(files);
    noWeights.delete('adapter_model.safetensors');
    expect(errorOf(() => importAdapterFiles(noWeights))).toMatch(/^adapter_model.safetensors is missing/);
    noWeights.set('adapter_model.bin', new Uint8Array(4));
    expect(errorOf(() => importAdapterFiles(noWeights))).toMatch(/only adapter_model.bin .*safe_serialization=True/);
    expect(errorOf(() => importAdapterFiles(new Map()))).toMatch(/got no files/);
  });

  it('refuses two adapters at once, bad JSON and bad configs', () => {
    const files = asMap(adapterFiles(record()));
    const two = new Map([...asMap(adapterFiles(record()), 'a/'), ...asMap(adapterFiles(record()), 'b/')]);
    expect(errorOf(() => importAdapterFiles(two))).toMatch(
      /found 2 copies of adapter_config.json \(a\/adapter_config.json, b\/adapter_config.json\)/,
    );
    const badTraining = new Map(files).set('training_config.json', enc.encode('{oops'));
    expect(errorOf(() => importAdapterFiles(badTraining))).toMatch(/^training_config.json is not valid JSON/);
    const listTraining = new Map(files).set('training_config.json', enc.encode('[1]'));
    expect(errorOf(() => importAdapterFiles(listTraining))).toMatch(/must hold a JSON object/);
    const dora = new Map(files).set(
      'adapter_config.json',
      enc.encode(JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'], use_dora: true })),
    );
    expect(errorOf(() => importAdapterFiles(dora), LoraError)).toMatch(/DoRA/);
    const latin1 = new Map(files).set('adapter_config.json', new Uint8Array([0x7b, 0xe9, 0x7d]));
    expect(errorOf(() => importAdapterFiles(latin1))).toBe('adapter_config.json is not UTF-8 text');
  });

  it('refuses tensors that do not fit the config', () => {
    const rec = record();
    const withTensors = (tensors: { name: string; shape: number[]; data: Float32Array }[], prefix = '') =>
      new Map(asMap(adapterFiles(rec), prefix)).set(`${prefix}adapter_model.safetensors`, writeSafetensors(tensors));
    const good = rec.tensors;
    const qA = good[0];
    // A module outside target_modules.
    const kA = { ...qA, name: peftKey(modulePath(0, 'k_proj'), 'A') };
    expect(errorOf(() => importAdapterFiles(withTensors([...good, kA])), LoraError)).toMatch(/k_proj is not among the target_modules/);
    // Something that is not a LoRA weight.
    const head = { name: 'base_model.model.lm_head.weight', shape: [1], data: new Float32Array(1) };
    expect(errorOf(() => importAdapterFiles(withTensors([...good, head])), LoraError)).toMatch(
      /"base_model.model.lm_head.weight": is not a LoRA weight/,
    );
    // Wrong rank.
    const wide = { ...qA, shape: [4, 4] };
    expect(errorOf(() => importAdapterFiles(withTensors([wide, ...good.slice(1)])), LoraError)).toMatch(
      /has rank 4, but adapter_config.json says r=2/,
    );
    // A without B.
    expect(errorOf(() => importAdapterFiles(withTensors(good.filter((t) => t.name !== good[1].name))), LoraError)).toMatch(
      /module model.layers.0.self_attn.q_proj has no lora_B.weight/,
    );
    expect(errorOf(() => importAdapterFiles(withTensors([])), LoraError)).toMatch(/holds no tensors/);
    // A corrupt file: the safetensors reader's error, naming the file as found (with its folder).
    const truncated = new Map(asMap(adapterFiles(rec), 'x/'));
    truncated.set('x/adapter_model.safetensors', truncated.get('x/adapter_model.safetensors')!.subarray(0, 50));
    expect(errorOf(() => importAdapterFiles(truncated), SafetensorsError)).toMatch(/^x\/adapter_model.safetensors: /);
  });
});
