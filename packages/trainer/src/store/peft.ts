// PEFT's on-disk adapter format: adapter_config.json + adapter_model.safetensors.
import { LORA_TARGETS, type LoraConfig, LoraError, type LoraTarget, modulePath, type PeftTensors } from '../model/lora.ts';
import { writeSafetensors } from '../model/safetensors.ts';

export interface PeftAdapterConfig {
  lora: LoraConfig;
  baseModel: string;
}

/** Targets a PEFT `target_modules` selects: a list of module names (or suffixes), a regex, or "all-linear". */
function resolveTargets(value: unknown, file: string): LoraTarget[] {
  if (value === 'all-linear') return [...LORA_TARGETS];
  if (typeof value === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`);
    } catch {
      throw new LoraError(`${file}: target_modules "${value}" is not a valid regular expression`);
    }
    // PEFT matches a regex against full module names; we need the same set in every layer.
    const perLayer = [0, 1].map((l) => LORA_TARGETS.filter((t) => re.test(modulePath(l, t))).join());
    if (perLayer[0] !== perLayer[1])
      throw new LoraError(
        `${file}: target_modules "${value}" selects different modules per layer; webtune adapts every layer alike: use an adapter of the same modules in each`,
      );
    const found = LORA_TARGETS.filter((t) => re.test(modulePath(0, t)));
    if (found.length === 0) throw new LoraError(`${file}: target_modules "${value}" matches none of ${LORA_TARGETS.join(', ')}`);
    return found;
  }
  if (!Array.isArray(value) || value.length === 0) throw new LoraError(`${file}: target_modules must be a non-empty list of module names`);
  const out: LoraTarget[] = [];
  for (const name of value) {
    const short = typeof name === 'string' ? name.split('.').at(-1) : undefined;
    const target = LORA_TARGETS.find((t) => t === short);
    if (!target)
      throw new LoraError(`${file}: target module "${String(name)}" is not supported; webtune adapts ${LORA_TARGETS.join(', ')}`);
    if (!out.includes(target)) out.push(target);
  }
  return LORA_TARGETS.filter((t) => out.includes(t));
}

/** Read adapter_config.json; refuse what webtune would apply differently from PEFT. */
export function parseAdapterConfig(json: string | Record<string, unknown>, file = 'adapter_config.json'): PeftAdapterConfig {
  let c: Record<string, unknown>;
  try {
    c = typeof json === 'string' ? JSON.parse(json) : json;
  } catch (err) {
    throw new LoraError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new LoraError(`${file} must hold a JSON object`);
  const fail = (why: string) => new LoraError(`${file}: ${why}`);
  if (c.peft_type !== 'LORA')
    throw fail(`peft_type is ${JSON.stringify(c.peft_type)}; webtune reads LORA adapters only (PEFT's LoraConfig)`);
  if (c.task_type !== undefined && c.task_type !== 'CAUSAL_LM')
    throw fail(`task_type is ${JSON.stringify(c.task_type)}; webtune adapts causal language models (task_type "CAUSAL_LM")`);
  if (c.bias !== undefined && c.bias !== 'none')
    throw fail(`bias "${c.bias}" is not supported: it trains the base's biases too; use an adapter trained with bias "none"`);
  if (c.use_dora) throw fail('DoRA adapters (use_dora: true) are not supported; use a plain LoRA adapter');
  if (c.fan_in_fan_out) throw fail('fan_in_fan_out: true (GPT-2 style Conv1D) is not supported');
  const nonEmpty = (k: string) =>
    c[k] !== undefined && c[k] !== null && !(typeof c[k] === 'object' && Object.keys(c[k] as object).length === 0);
  for (const k of ['modules_to_save', 'layers_to_transform', 'rank_pattern', 'alpha_pattern']) {
    if (nonEmpty(k)) throw fail(`${k} is set; webtune adapts every layer with one rank and alpha and saves no extra modules`);
  }
  const r = c.r;
  const alpha = c.lora_alpha;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw fail(`r must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== 'number' || !(alpha > 0)) throw fail(`lora_alpha must be a positive number, got ${JSON.stringify(alpha)}`);
  const dropout = c.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1))
    throw fail(`lora_dropout must be in [0, 1), got ${JSON.stringify(dropout)}`);
  return {
    lora: { r, alpha, dropout, targetModules: resolveTargets(c.target_modules, file), useRslora: c.use_rslora === true },
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : '',
  };
}

/** adapter_config.json as PEFT writes it (the fields PEFT needs to load it back). */
export function adapterConfigJson(lora: LoraConfig, baseModel: string): string {
  const config = {
    alpha_pattern: {},
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_to_transform: null,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: lora.r,
    rank_pattern: {},
    target_modules: [...lora.targetModules].sort(),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: lora.useRslora,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** adapter_model.safetensors bytes, tensors in a stable (sorted) order. */
export function adapterSafetensors(tensors: PeftTensors): Uint8Array {
  const names = [...tensors.keys()].sort();
  return writeSafetensors(
    names.map((name) => ({ name, ...(tensors.get(name) as { shape: number[]; data: Float32Array }) })),
    { format: 'pt' },
  );
}
