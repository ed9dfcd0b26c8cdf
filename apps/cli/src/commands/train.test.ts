// train's help lists every hyper-parameter with what it takes, its default per method and its range, all read from
// HYPER_PARAMS and defaultConfig: the help cannot drift from what the trainer does.
import { defaultConfig, HYPER_PARAMS } from '@webtune/trainer';
import { describe, expect, it } from 'vitest';
import { help } from './train.ts';

/** The two help lines of `--flag`: its name and help, then its defaults. */
const entry = (flag: string) => {
  const lines = help.split('\n');
  const at = lines.findIndex((l) => l.trimStart().startsWith(`--${flag} `) || l.trim() === `--${flag}`);
  return lines.slice(at, at + 3).join('\n');
};

describe('train --help', () => {
  it('gives every hyper-parameter its defaults (per method where they differ) and its range', () => {
    expect(entry('learning-rate')).toContain('default 5e-5 (SFT: 2e-4); between 0 and 1');
    expect(entry('batch-size')).toContain('default 4 (SFT, KTO: 8); between 1 and 4096');
    expect(entry('max-steps')).toContain('default -1; at least -1');
    expect(entry('beta')).toContain('(DPO/KTO/ORPO/SimPO only)');
    expect(entry('use-rslora')).toMatch(/--use-rslora\s+rsLoRA.*\n\s+off by default/);
    expect(entry('eval-strategy')).toMatch(/--eval-strategy no\|steps\|epoch\n/);
    expect(entry('completion-only-loss')).toMatch(/--completion-only-loss true\|false\n/);
    expect(defaultConfig('sft').learningRate).toBe(2e-4); // what the first line says
    for (const p of HYPER_PARAMS) expect(help, p.flag).toMatch(new RegExp(`\\n {2}--${p.flag}[ \\n]`));
  });
});
