#!/usr/bin/env -S npx tsx
// webtune's command line. Each command lives in ./commands/<name>.ts with its own help.
import { existsSync } from 'node:fs';
import { oneLine, UsageError } from './args.ts';

interface Command {
  summary: string;
  load: () => Promise<{ help: string; run(argv: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  train: { summary: 'train a LoRA adapter (SFT, DPO, KTO, ORPO, SimPO); writes a PEFT folder', load: () => import('./commands/train.ts') },
  eval: { summary: 'evaluate an adapter on a dataset (TRL metrics as JSON)', load: () => import('./commands/eval.ts') },
  classroom: {
    summary: 'the classroom path on the demo: SFT, smoke test, DPO, evaluate; before/after figures',
    load: () => import('./commands/classroom.ts'),
  },
  export: {
    summary: 'export a model + adapter: peft, merged, gguf, gguf-lora, ollama, trl-run',
    load: () => import('./commands/export.ts'),
  },
  candidates: { summary: 'K sampled answers per prompt, for a judge to score', load: () => import('./commands/candidates.ts') },
  pairs: { summary: 'candidates + scores -> DPO pairs (TRL JSONL + provenance)', load: () => import('./commands/pairs.ts') },
  ab: { summary: 'blind A/B of two models; win rates with 95% intervals', load: () => import('./commands/ab.ts') },
  generate: { summary: 'generate text with the model and an adapter', load: () => import('./commands/generate.ts') },
  gpu: { summary: 'show the WebGPU adapter headless Chromium finds', load: () => import('./commands/gpu.ts') },
  bench: { summary: 'kernel and training benchmarks against peers (tables + JSON)', load: () => import('./commands/bench.ts') },
  kernels: { summary: 'run the kernel GPU tests (`kernels test`)', load: () => import('./commands/kernels.ts') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `webtune: fine-tune small language models on WebGPU, headless.

usage: pnpm cli <command> [options]     (pnpm cli <command> --help for its options)

commands:
${lines.join('\n')}

environment:
  WEBTUNE_DEBUG        print stack traces of errors
  WEBTUNE_CHROMIUM     path to the Chromium/Chrome to drive (default: the system's chromium)
  WEBTUNE_GPU          auto | hardware | swiftshader (default auto: a real GPU if Chromium finds one)
  WEBTUNE_RUNTIME      browser | dawn (default browser; dawn: the trainer in this process on Dawn, no browser)
  WEBTUNE_PROFILE_DIR  the browser profile, where checkpoints and the model cache live (default
                       ~/.cache/webtune/chromium; give each CLI run that goes at the same time its own)
  HF_TOKEN             a Hugging Face access token, for gated and private models given as a Hub id
  WEBTUNE_HF_ENDPOINT  the Hub to download from (or HF_ENDPOINT; default https://huggingface.co)`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // Asked for: the usage is the output. Not asked for (no command): it is the error.
    (name ? process.stdout : process.stderr).write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`webtune: unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}.\n`);
    return 2;
  }
  const mod = await command.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${mod.help}\n`);
    return 0;
  }
  try {
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`webtune ${name}: ${oneLine(err.message)}\n`);
      return 2;
    }
    // Anything else is still one line for the user; the stack only when asked for.
    const message = oneLine(err instanceof Error ? err.message : String(err));
    process.stderr.write(`webtune ${name}: ${message}\n`);
    if (process.env.WEBTUNE_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

// `pnpm cli` runs this from the repository's root, but the paths on the command line are relative to where the user
// typed it: pnpm's INIT_CWD. (Only under that script: a test run by `pnpm test` spawns this with its own cwd.)
const typedIn = process.env.INIT_CWD;
if (process.env.npm_lifecycle_event === 'cli' && typedIn && typedIn !== process.cwd() && existsSync(typedIn)) process.chdir(typedIn);
process.exitCode = await main(process.argv.slice(2));
