// WebGPU in Node through the `webgpu` package (Dawn, Chrome's WebGPU implementation): the same
// WGSL and the same GPU tests with no browser, e.g. on a GPU server. On Linux Dawn reaches
// the GPU through Vulkan, so it needs the Vulkan loader (Debian: libvulkan1) and a driver;
// with no GPU it can use Chromium's SwiftShader, pointed at by VK_ICD_FILENAMES.
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { findChromium, type GpuChoice, parseGpuChoice } from './chromium.ts';
import { type AdapterReport, NoWebGpuError } from './session.ts';

export interface DawnGpu {
  gpu: GPU;
  adapter: AdapterReport;
}

/** Chromium's SwiftShader Vulkan driver manifest, beside the browser binary. */
export function swiftShaderIcd(): string | null {
  const dirs = ['/usr/lib/chromium'];
  try {
    dirs.push(dirname(realpathSync(findChromium())));
  } catch {
    // no browser: only the Debian location is left to try
  }
  return dirs.map((d) => join(d, 'vk_swiftshader_icd.json')).find((f) => existsSync(f)) ?? null;
}

/** Where the Vulkan loader looks for driver manifests on Linux besides the XDG folders (its LoaderDriverInterface.md). */
const SYSTEM_ICD_DIRS = ['/usr/local/etc/vulkan/icd.d', '/etc/vulkan/icd.d'];

/**
 * Whether the Vulkan loader has a driver to find on Linux: one named by the environment, or a manifest in a folder it
 * searches. With none, asking Dawn for a GPU finds nothing and prints the loader's warnings on stderr, so `auto`
 * goes straight to SwiftShader.
 */
export function vulkanDriversListed(env: NodeJS.ProcessEnv = process.env, systemDirs = SYSTEM_ICD_DIRS): boolean {
  if (process.platform !== 'linux' || env.VK_DRIVER_FILES || env.VK_ADD_DRIVER_FILES || env.VK_ICD_FILENAMES) return true;
  const home = env.HOME ?? homedir();
  const bases = [
    env.XDG_CONFIG_HOME || join(home, '.config'),
    ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'),
    env.XDG_DATA_HOME || join(home, '.local', 'share'),
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':'),
  ];
  return [...bases.map((b) => join(b, 'vulkan', 'icd.d')), ...systemDirs].some((dir) => {
    try {
      return readdirSync(dir).some((f) => f.endsWith('.json'));
    } catch {
      return false; // no such folder
    }
  });
}

function report(adapter: GPUAdapter): AdapterReport {
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) limits[key] = Number(adapter.limits[key as keyof GPUSupportedLimits]);
  const info = adapter.info;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...adapter.features].sort(),
    limits,
  };
}

/**
 * `hardware` asked for and no GPU: what Dawn saw (nothing, or only a software Vulkan driver such as SwiftShader or
 * lavapipe, which Dawn reports as a fallback adapter) and what to install or pass instead.
 */
function noHardware(software: AdapterReport | undefined): string {
  const saw = software
    ? `only the software adapter "${[software.vendor, software.architecture, software.description].filter(Boolean).join(' / ')}"`
    : 'no adapter at all';
  return (
    `--gpu hardware: Dawn (Node "webgpu") found no GPU (${saw}). It reaches a GPU through Vulkan: install the GPU's ` +
    'Vulkan driver (NVIDIA: the proprietary driver with its Vulkan ICD, nvidia_icd.json; AMD/Intel: mesa-vulkan-drivers) ' +
    'and the Vulkan loader (Debian: apt-get install libvulkan1); `vulkaninfo --summary` lists the GPUs Vulkan sees. ' +
    `${process.env.VK_ICD_FILENAMES ? `VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES} limits Vulkan to those drivers. ` : ''}` +
    'With no GPU, use the software adapter: --gpu swiftshader (or WEBTUNE_GPU=swiftshader).'
  );
}

/**
 * A WebGPU entry point from Dawn, with the WebGPU globals (GPUBufferUsage, ...) and
 * `navigator.gpu` installed as in a browser. `auto` takes a real GPU and falls back to
 * SwiftShader; `hardware` refuses a software adapter; an explicit VK_ICD_FILENAMES is always respected.
 */
export async function openDawn(choice: GpuChoice = parseGpuChoice(process.env.WEBTUNE_GPU)): Promise<DawnGpu> {
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (err) {
    throw new NoWebGpuError(`the Node package "webgpu" (Dawn) cannot be loaded: ${(err as Error).message}. Run pnpm install.`);
  }
  Object.assign(globalThis, dawn.globals);
  const attempt = async (): Promise<DawnGpu | null> => {
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    return adapter ? { gpu, adapter: report(adapter) } : null;
  };
  const userIcd = process.env.VK_ICD_FILENAMES;
  const noDriver = choice === 'swiftshader' || (choice === 'auto' && !vulkanDriversListed());
  let found = noDriver && !userIcd ? null : await attempt();
  if (choice === 'hardware' && (!found || found.adapter.isFallbackAdapter)) throw new NoWebGpuError(noHardware(found?.adapter));
  if (!found && choice !== 'hardware' && !userIcd) {
    const icd = swiftShaderIcd();
    if (icd) {
      process.env.VK_ICD_FILENAMES = icd; // read by the Vulkan loader when Dawn makes an instance
      found = await attempt();
    }
  }
  if (!found) {
    throw new NoWebGpuError(
      `Dawn (Node "webgpu") found no ${choice === 'auto' ? '' : `${choice} `}adapter. It needs the Vulkan loader ` +
        "(Debian: apt-get install libvulkan1) and a Vulkan driver: a GPU driver, or Chromium's SwiftShader " +
        `(${swiftShaderIcd() ?? 'not found: install chromium'}) via WEBTUNE_GPU=swiftshader or VK_ICD_FILENAMES.`,
    );
  }
  // Node 20 has no navigator, Node 21+ one without gpu: tests that ask navigator.gpu for a second adapter work here too.
  const g = globalThis as { navigator?: object };
  g.navigator ??= {};
  const nav = g.navigator;
  if (!('gpu' in nav)) Object.defineProperty(nav, 'gpu', { value: found.gpu, configurable: true });
  return found;
}
