// The held-out prompts a screen offers by default (Pairs' candidates, the Train screen's smoke test): the rows an SFT
// adapter's run held out of its file (val_size: their lines are in its training_config.json) when that file is the
// Data screen's SFT file; else the last tenth of that file (held out only if you trained on the rest); else the demo's
// own held-out prompts.
import type { AdapterSummary } from '@webtune/trainer';
import { findDemoPrompts } from './demo.ts';
import { dataState } from './state/data.svelte.ts';

export interface HeldOutPrompts {
  /** One prompt row a line, as the file has it. */
  text: string;
  /** Where they come from, for the screen. */
  source: string;
}

export async function heldOutPrompts(adapter?: AdapterSummary, demoCount = 6): Promise<HeldOutPrompts | null> {
  const sft = dataState.datasets.sft;
  if (sft) {
    const all = sft.text.split('\n');
    const lines = adapter?.heldOut?.file === sft.file ? adapter.heldOut.lines : null;
    if (lines && lines.length > 0)
      return { text: lines.map((l) => all[l - 1]).join('\n'), source: `the ${lines.length} rows ${adapter?.name} held out of ${sft.file}` };
    const rows = all.filter((l) => l.trim() !== '');
    return {
      text: rows.slice(-Math.max(1, Math.min(20, Math.ceil(rows.length / 10)))).join('\n'),
      source: `the last tenth of ${sft.file}`,
    };
  }
  const demo = await findDemoPrompts();
  if (!demo) return null;
  const text = demo
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, demoCount)
    .join('\n');
  return { text, source: 'the demo held-out prompts' };
}
