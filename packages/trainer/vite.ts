// What a page hosting the trainer needs from vite (the studio, the CLI page, the test pages): ES-module workers,
// and the worker's dependencies declared up front so vite never discovers one late and reloads the page in the
// middle of a run.
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

export function webtuneTrainer(): Plugin {
  return {
    name: 'webtune-trainer',
    config(config) {
      const root = resolve(config.root ?? process.cwd());
      return {
        worker: { format: 'es' },
        optimizeDeps: { entries: [relative(root, resolve(here, 'src/worker.ts'))] },
      };
    },
  };
}
