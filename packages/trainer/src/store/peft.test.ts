// adapter_config.json as PEFT writes it: what webtune reads (target_modules as a list, a regex or "all-linear"), and
// each setting it would apply differently from PEFT refused by name, with the file and what to do.
import { describe, expect, it } from 'vitest';
import { LoraError } from '../model/lora.ts';
import { adapterConfigJson, parseAdapterConfig } from './peft.ts';

const ok = { peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'] };
const refusal = (over: Record<string, unknown>): string => {
  try {
    parseAdapterConfig({ ...ok, ...over }, 'adapters/a/adapter_config.json');
  } catch (e) {
    expect(e).toBeInstanceOf(LoraError);
    return (e as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(over)}`);
};

describe('parseAdapterConfig', () => {
  it('reads what adapterConfigJson writes', () => {
    const lora = { r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'down_proj'] as const, useRslora: true };
    expect(parseAdapterConfig(adapterConfigJson({ ...lora, targetModules: [...lora.targetModules] }, 'org/base'))).toEqual({
      lora: { ...lora, targetModules: ['q_proj', 'down_proj'] },
      baseModel: 'org/base',
    });
  });

  it('takes target_modules as PEFT does: names or full paths, a regex, "all-linear"', () => {
    const targets = (target_modules: unknown) => parseAdapterConfig({ ...ok, target_modules }).lora.targetModules;
    expect(targets(['model.layers.0.self_attn.v_proj', 'q_proj', 'q_proj'])).toEqual(['q_proj', 'v_proj']);
    expect(targets('.*\\.(q|v)_proj')).toEqual(['q_proj', 'v_proj']);
    expect(targets('all-linear')).toHaveLength(7);
  });

  it.each([
    [{ peft_type: 'IA3' }, 'peft_type is "IA3"; webtune reads LORA adapters only'],
    [{ task_type: 'SEQ_CLS' }, 'task_type is "SEQ_CLS"; webtune adapts causal language models (task_type "CAUSAL_LM")'],
    [{ bias: 'all' }, 'bias "all" is not supported: it trains the base\'s biases too; use an adapter trained with bias "none"'],
    [{ use_dora: true }, 'DoRA adapters (use_dora: true) are not supported; use a plain LoRA adapter'],
    [{ fan_in_fan_out: true }, 'fan_in_fan_out: true (GPT-2 style Conv1D) is not supported'],
    [
      { modules_to_save: ['lm_head'] },
      'modules_to_save is set; webtune adapts every layer with one rank and alpha and saves no extra modules',
    ],
    [{ layers_to_transform: [0, 1] }, 'layers_to_transform is set'],
    [{ rank_pattern: { q_proj: 4 } }, 'rank_pattern is set'],
    [{ alpha_pattern: { q_proj: 4 } }, 'alpha_pattern is set'],
    [{ r: 0 }, 'r must be a positive integer, got 0'],
    [{ r: 2.5 }, 'r must be a positive integer, got 2.5'],
    [{ lora_alpha: '16' }, 'lora_alpha must be a positive number, got "16"'],
    [{ lora_dropout: 1 }, 'lora_dropout must be in [0, 1), got 1'],
    [{ target_modules: [] }, 'target_modules must be a non-empty list of module names'],
    [{ target_modules: ['lm_head'] }, 'target module "lm_head" is not supported; webtune adapts q_proj, k_proj'],
    [{ target_modules: '(q_proj' }, 'target_modules "(q_proj" is not a valid regular expression'],
    [
      { target_modules: '.*layers\\.0\\..*q_proj' },
      'target_modules ".*layers\\.0\\..*q_proj" selects different modules per layer; webtune adapts every layer alike: use an adapter of the same modules in each',
    ],
    [{ target_modules: '.*lm_head' }, 'target_modules ".*lm_head" matches none of q_proj'],
  ])('refuses %j, naming the file', (over, message) => {
    expect(refusal(over)).toContain(`adapters/a/adapter_config.json: ${message}`);
  });

  it('refuses a file that is not a JSON object', () => {
    expect(() => parseAdapterConfig('{"r": ', 'a.json')).toThrow(/^a\.json is not valid JSON: /);
    expect(() => parseAdapterConfig('[1]', 'a.json')).toThrow('a.json must hold a JSON object');
  });
});
