// Dawn reads the Vulkan driver list when it makes an instance, and openDawn installs globals:
// each case runs in its own Node process. Starting Node with tsx and Dawn takes about 2 s on an
// idle 2-core machine and several times that under load, past vitest's 5 s default: not a timing test.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { swiftShaderIcd, vulkanDriversListed } from './dawn.ts';

const DAWN = fileURLToPath(new URL('./dawn.ts', import.meta.url));

function openIn(env: Record<string, string>): Promise<string> {
  const script = `import { openDawn } from ${JSON.stringify(DAWN)};
openDawn().then((d) => console.log('adapter', typeof navigator.gpu.requestAdapter, d.adapter.vendor), (e) => console.log(e.name, e.message));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { env: { ...process.env, ...env } },
      (err, stdout) => (err ? reject(err) : resolve(stdout.trim())),
    );
  });
}

describe('openDawn', { timeout: 30_000 }, () => {
  it('says what it needs when the Vulkan driver it was pointed at does not exist', async () => {
    const out = await openIn({ VK_ICD_FILENAMES: '/nonexistent/icd.json', WEBTUNE_GPU: 'auto' });
    expect(out).toMatch(
      /^NoWebGpuError Dawn \(Node "webgpu"\) found no adapter\. It needs the Vulkan loader \(Debian: apt-get install libvulkan1\)/,
    );
  });

  const icd = swiftShaderIcd();
  it.skipIf(!icd)(
    `refuses --gpu hardware when Vulkan offers only a software adapter, and says what to install or pass${icd ? '' : ' (skipped: no Chromium, whose SwiftShader Vulkan driver it points Dawn at)'}`,
    async () => {
      const out = await openIn({ VK_ICD_FILENAMES: icd ?? '', WEBTUNE_GPU: 'hardware' });
      expect(out).toContain(
        'NoWebGpuError --gpu hardware: Dawn (Node "webgpu") found no GPU (only the software adapter "google / swiftshader / SwiftShader driver',
      );
      expect(out).toContain("install the GPU's Vulkan driver");
      expect(out).toContain('apt-get install libvulkan1');
      expect(out).toContain(`VK_ICD_FILENAMES=${icd} limits Vulkan to those drivers.`);
      expect(out).toMatch(/With no GPU, use the software adapter: --gpu swiftshader \(or WEBTUNE_GPU=swiftshader\)\.$/);
    },
  );

  it('refuses a wrong WEBTUNE_GPU by name', async () => {
    expect(await openIn({ WEBTUNE_GPU: 'cuda' })).toContain('WEBTUNE_GPU/--gpu must be auto, hardware or swiftshader (got "cuda")');
  });
});

describe.runIf(process.platform === 'linux')('vulkanDriversListed', () => {
  it("finds a manifest in the loader's folders, or a driver named by the environment; nothing otherwise", () => {
    const root = mkdtempSync(join(tmpdir(), 'webtune-icd-'));
    try {
      const env = { HOME: root, XDG_CONFIG_DIRS: join(root, 'xdg'), XDG_DATA_DIRS: join(root, 'share') };
      expect(vulkanDriversListed(env, [])).toBe(false);
      mkdirSync(join(root, 'share', 'vulkan', 'icd.d'), { recursive: true });
      expect(vulkanDriversListed(env, [])).toBe(false); // the folder alone, as Debian leaves /etc/vulkan/icd.d
      writeFileSync(join(root, 'share', 'vulkan', 'icd.d', 'nvidia_icd.json'), '{}');
      expect(vulkanDriversListed(env, [])).toBe(true);
      expect(vulkanDriversListed({ HOME: root, VK_ADD_DRIVER_FILES: '/opt/icd.json', XDG_DATA_DIRS: join(root, 'none') }, [])).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
