// `pnpm cli generate`: the model's answer to a prompt, with an adapter or without.
import { GENERATION_LIMITS } from '@webtune/trainer';
import { integerOption, numberOption, parseCommandArgs, RUNTIME_HELP, UsageError } from '../args.ts';
import { adapterArg, importAdapterArg, modelArg, openWithModel } from './shared.ts';

export const help = `pnpm cli generate --model <dir|hub-id> --prompt <text> [--adapter <dir>] [--chat] [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]

Generate with a KV cache until EOS or --max-new-tokens (default 64). --temperature 0 (default) is greedy.
--chat renders the prompt as a user message through the tokenizer's chat template.

${RUNTIME_HELP}
  --verbose                     forward the page's console`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('generate', argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    adapter: { type: 'string' },
    chat: { type: 'boolean' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    gpu: { type: 'string' },
    runtime: { type: 'string' },
    verbose: { type: 'boolean' },
  });
  if (values.prompt === undefined) throw new UsageError('--prompt is required');
  const { maxNewTokens: tok, temperature: temp, topP: p } = GENERATION_LIMITS;
  const maxNewTokens = integerOption('max-new-tokens', values['max-new-tokens'], tok.default, tok.min, tok.max);
  const temperature = numberOption('temperature', values.temperature, temp.default, temp.min, temp.max);
  const topP = numberOption('top-p', values['top-p'], p.default, p.min, p.max);
  const seed = integerOption('seed', values.seed, 0, 0, 2 ** 31 - 1);
  const model = modelArg(values.model);
  const adapter = adapterArg(values.adapter, 'adapter');
  const { engine } = await openWithModel(model, values);
  try {
    const adapterId = adapter ? await importAdapterArg(engine, adapter) : null;
    const prompt = values.chat ? [{ role: 'user' as const, content: values.prompt }] : values.prompt;
    let shown = 0;
    const result = await engine.stream('generate', [{ prompt, adapterId, maxNewTokens, temperature, topP, seed }], (text: string) => {
      if (process.stdout.isTTY) {
        process.stdout.write(text.slice(shown));
        shown = text.length;
      }
    });
    process.stdout.write(process.stdout.isTTY ? `${result.text.slice(shown)}\n` : `${result.text}\n`);
    return 0;
  } finally {
    await engine.close();
  }
}
