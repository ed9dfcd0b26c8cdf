// Every command module loads in Node as `pnpm cli` runs it (tsx, no bundler): nothing it imports, the trainer's index
// included, may reach a module only vite can load (WGSL through `?raw`: the page's and Dawn's, not the CLI's).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('every command module imports under tsx alone', () => {
  const dir = join(import.meta.dirname, 'commands');
  const modules = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
  expect(modules.length).toBeGreaterThan(10);
  const script = `for (const m of ${JSON.stringify(modules)}) await import(m);`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..'),
    encoding: 'utf8',
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
});
