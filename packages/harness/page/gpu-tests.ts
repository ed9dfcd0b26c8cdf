// The in-page GPU test runner. Node calls window.__webtuneRunGpuTests(request); each result
// goes back through window.__webtuneReport as soon as it is known (so a hang still shows
// how far the run got). The loop itself is shared with the Node (Dawn) host: src/page/run.ts.
import { runGpuTestFiles } from '../src/page/run.ts';

const files = import.meta.glob(['/packages/**/*.gpu.test.ts', '/apps/**/*.gpu.test.ts', '/test/**/*.gpu.test.ts', '!**/node_modules/**']);

window.__webtuneRunGpuTests = async ({ prefixes, grep }) => {
  const selected = Object.fromEntries(
    Object.entries(files).filter(([f]) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(`/${p}`))),
  );
  return runGpuTestFiles({ gpu: navigator.gpu, files: selected, grep, report: (r) => window.__webtuneReport(r) });
};
