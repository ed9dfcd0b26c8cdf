// The parameter form's field, rendered on the server (the unit project has no Svelte plugin: the component is
// compiled here with the Svelte compiler and imported from a temporary file beside it, so its imports resolve).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig, HYPER_PARAMS, type HyperParam } from '@webtune/trainer';
import type { Component } from 'svelte';
import { compile } from 'svelte/compiler';
import { render } from 'svelte/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HERE = import.meta.dirname;
const COMPILED = join(HERE, `.ParamField.${process.pid}.ssr.js`);
let ParamField: Component<{ param: HyperParam; config: ReturnType<typeof defaultConfig>; idPrefix: string }>;

beforeAll(async () => {
  const source = readFileSync(join(HERE, 'ParamField.svelte'), 'utf8');
  const { js } = compile(source, { generate: 'server', filename: 'ParamField.svelte' });
  writeFileSync(COMPILED, js.code);
  ParamField = (await import(/* @vite-ignore */ COMPILED)).default;
});
afterAll(() => rmSync(COMPILED, { force: true }));

const html = (param: HyperParam, config = defaultConfig('sft')) =>
  render(ParamField, { props: { param, config, idPrefix: 'sft-param' } }).body;

describe('ParamField', () => {
  it('renders an on/off setting as a labelled checkbox with its one-line help', () => {
    const param = {
      key: 'useRslora',
      trl: 'use_rslora',
      flag: 'use-rslora',
      kind: { type: 'boolean' },
      lora: true,
      help: 'Scale by alpha / sqrt(r).',
    };
    const config = defaultConfig('sft');
    for (const on of [false, true]) {
      config.lora.useRslora = on;
      const out = html(param as unknown as HyperParam, config);
      const input = out.match(/<input[^>]*>/)?.[0] ?? '';
      expect(input).toMatch(/type="checkbox"/);
      expect(input).toContain('id="sft-param-use-rslora"');
      expect(input).toContain('aria-describedby="sft-param-use-rslora-help"');
      expect(/\schecked(\s|=|>)/.test(input)).toBe(on);
      // The checkbox sits inside its label, which names it.
      expect(out).toMatch(
        /<label class="check toggle[^"]*" for="sft-param-use-rslora">\s*<input[^>]*>\s*Use rsLoRA <code[^>]*>use_rslora<\/code>/,
      );
      expect(out).toContain('<p id="sft-param-use-rslora-help" class="help');
      expect(out).toContain('Scale by alpha / sqrt(r).');
      expect(out).not.toContain('type="number"');
    }
  });

  it("renders every one of the trainer's own settings with a label and its help", () => {
    for (const m of ['sft', 'dpo'] as const) {
      for (const p of HYPER_PARAMS) {
        const out = html(p, defaultConfig(m));
        expect(out, p.flag).toMatch(/<(label|legend)[^>]*>/);
        expect(out, p.flag).toContain(p.help.replaceAll('&', '&amp;').replaceAll('<', '&lt;'));
        expect(out, p.flag).toMatch(/<(input|select)/);
        if ((p.kind.type as string) === 'boolean') expect(out, p.flag).toMatch(/<input[^>]*type="checkbox"[^>]*data-param=/);
      }
    }
  });
});
