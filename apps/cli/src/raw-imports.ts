// Lets this process import the kernels' WGSL as vite does (`import source from './x.wgsl?raw'`: the file's text), so
// the trainer's modules run in Node with no bundler (dawn-host.ts). Importing this module registers the hook; modules
// imported after it (dynamically) see it.
import { register } from 'node:module';

const hooks = `
import { readFile } from 'node:fs/promises';
export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('?raw')) return next(url, context);
  const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
  return { format: 'module', source: 'export default ' + JSON.stringify(text) + ';', shortCircuit: true };
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
