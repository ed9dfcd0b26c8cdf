// The shipped adapters of the demo lesson (apps/studio/public/demo/adapters/<preset>/) against the lesson as it is: the
// fingerprint, checked in Node (no browser). That a fresh run of the recipe gives these very adapters is checked by
// test/cli-classroom.test.ts (--verify-shipped: the first steps against the same run's snapshots) and, whole, by
// `VERIFY=full bash scripts/demo/ship-adapters.sh`.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADAPTER_FILES, parseShipped, stageFolder } from '@webtune/trainer';
import { afterAll, describe, expect, it } from 'vitest';
import { choosePreset, readLesson } from './classroom.ts';
import { checkShipped, shippedMode } from './classroom-shipped.ts';

const DEMO = join(import.meta.dirname, '..', '..', '..', 'studio', 'public', 'demo');
const files = readLesson(DEMO);
const preset = files.lesson.presets.find((p) => p.adapters !== null);
const temp = mkdtempSync(join(tmpdir(), 'webtune-shipped-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A copy of the demo (the model too: its hash is part of the fingerprint) with `change` made to it. */
function changedDemo(name: string, change: (dir: string) => void) {
  const dir = join(temp, name);
  cpSync(DEMO, dir, { recursive: true });
  change(dir);
  const copy = readLesson(dir);
  return { files: copy, preset: choosePreset(copy, preset?.id)! };
}

describe('the shipped adapters of the demo lesson', () => {
  it('ship with a preset of lesson.json', () => {
    expect(preset?.adapters).toBe('adapters/quick/');
  });

  it('were trained with the recipe and the demo files as they are now, and are the files recorded', async () => {
    const { shipped } = await checkShipped(files, preset!);
    expect(shipped.preset).toBe(preset!.id);
    for (const m of ['sft', 'dpo'] as const) {
      const folders = [stageFolder(m), stageFolder(m, shipped.stages[m].snapshotStep)];
      for (const folder of folders) for (const f of ADAPTER_FILES) expect(Object.keys(shipped.files)).toContain(`${folder}${f}`);
      expect(shipped.stages[m].steps).toBe(preset!.configs[m].maxSteps);
      expect(shipped.stages[m].metrics.map((r) => r.step)).toEqual(Array.from({ length: shipped.stages[m].steps }, (_, i) => i + 1));
    }
  });

  it("are the recipe's LoRA: each adapter_config.json says the recipe's rank, alpha, dropout and modules", () => {
    const dir = join(DEMO, preset!.adapters!);
    const shipped = parseShipped(readFileSync(join(dir, 'shipped.json'), 'utf8'));
    for (const m of ['sft', 'dpo'] as const) {
      const peft = shipped.recipe[m].peft_config as Record<string, unknown>;
      for (const folder of [stageFolder(m), stageFolder(m, shipped.stages[m].snapshotStep)]) {
        const config = JSON.parse(readFileSync(join(dir, folder, 'adapter_config.json'), 'utf8'));
        expect([config.r, config.lora_alpha, config.lora_dropout, config.use_rslora]).toEqual([
          peft.r,
          peft.lora_alpha,
          peft.lora_dropout,
          peft.use_rslora,
        ]);
        expect([...config.target_modules].sort()).toEqual([...(peft.target_modules as string[])].sort());
      }
    }
  });

  it('show the lesson: the card after SFT (the smoke test passes), the closing line improved by DPO, the true facts throughout', () => {
    const { report } = parseShipped(readFileSync(join(DEMO, preset!.adapters!, 'shipped.json'), 'utf8'));
    const { base, sft, dpo } = report.models;
    expect(report.smoke_test.passed).toBe(true);
    expect([base.format, sft.format >= 0.8, dpo.format >= 0.8]).toEqual([0, true, true]);
    expect(dpo.closing).toBeGreaterThan(sft.closing);
    expect(dpo['rewards/accuracies']).toBeGreaterThan(sft['rewards/accuracies']);
    // The facts are judged on the facts alone: the base model's true sentences, in prose, pass as the cards do.
    expect([base.facts, sft.facts, dpo.facts]).toEqual([1, 1, 1]);
  });

  it('are refused, with every difference named, once a demo file, the recipe or a shipped file changes', async () => {
    const { stages } = parseShipped(readFileSync(join(DEMO, preset!.adapters!, 'shipped.json'), 'utf8'));
    const snapshotFolder = stageFolder('sft', stages.sft.snapshotStep);
    const changed = changedDemo('changed', (dir) => {
      writeFileSync(join(dir, 'data/sft.jsonl'), `${readFileSync(join(dir, 'data/sft.jsonl'), 'utf8')}\n`);
      const lesson = JSON.parse(readFileSync(join(dir, 'lesson.json'), 'utf8'));
      lesson.presets[preset!.id].stages.sft.learning_rate = 0.003;
      writeFileSync(join(dir, 'lesson.json'), JSON.stringify(lesson));
      const snapshot = join(dir, preset!.adapters!, snapshotFolder, 'adapter_model.safetensors');
      const bytes = readFileSync(snapshot);
      bytes[bytes.length - 1] ^= 1;
      writeFileSync(snapshot, bytes);
    });
    const refusal = checkShipped(changed.files, changed.preset);
    await expect(refusal).rejects.toThrow(/^the adapters in .*adapters\/quick are not the lesson's as it is now: /);
    await expect(refusal).rejects.toThrow("the SFT recipe's learning_rate is 0.003 in lesson.json, 0.002 when they were trained");
    await expect(refusal).rejects.toThrow(
      /data\/sft\.jsonl has changed since they were trained \(SHA-256 [0-9a-f]{12}…, then [0-9a-f]{12}…\)/,
    );
    await expect(refusal).rejects.toThrow(`${snapshotFolder}adapter_model.safetensors is not the file recorded in shipped.json`);
    await expect(refusal).rejects.toThrow(/Train them again with scripts\/demo\/ship-adapters\.sh$/);
  });

  it('are refused when shipped.json is missing', async () => {
    const gone = changedDemo('gone', (dir) => rmSync(join(dir, preset!.adapters!, 'shipped.json')));
    await expect(checkShipped(gone.files, gone.preset)).rejects.toThrow(
      /adapters\/quick\/shipped\.json is missing; train the shipped adapters with scripts\/demo\/ship-adapters\.sh/,
    );
  });
});

describe('--use-shipped, --verify-shipped and --ship on the command line', () => {
  it.each([
    [{ 'use-shipped': true, ship: 'x' }, '--use-shipped and --ship cannot go together: give one'],
    [{ full: true }, '--full goes with --verify-shipped'],
    [
      { 'verify-shipped': true, 'sft-steps': '5' },
      "--sft-steps cannot go with --verify-shipped: the shipped adapters are the preset's own recipe",
    ],
    [{ 'verify-shipped': true, prompts: '2' }, '--prompts cannot go with --verify-shipped'],
    [{ 'use-shipped': true, 'train-dpo-anyway': true }, '--train-dpo-anyway cannot go with --use-shipped'],
    [{ ship: 'x' }, "--ship needs --preset: the shipped adapters are a preset's"],
  ])('refuses %j', (values, message) => {
    expect(() => shippedMode(values)).toThrow(message);
  });

  it('reads each mode', () => {
    expect(shippedMode({})).toBe(null);
    expect(shippedMode({ 'use-shipped': true, prompts: '2' })).toBe('use');
    expect(shippedMode({ 'verify-shipped': true, full: true })).toBe('verify');
    expect(shippedMode({ ship: 'x', preset: 'quick' })).toBe('ship');
  });
});
