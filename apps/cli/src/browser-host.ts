// The trainer in a page of headless Chromium: the CLI's built page (page-bundle.ts) starts the trainer's worker, and
// each call crosses to it through PageCalls in the wire codec (wire.ts); the page's events come back through an
// exposed function. Local folders are served beside the page's files.
import { type GpuSession, openGpuSession, PageCalls } from '@webtune/harness';
import type { HostOptions, TrainerHost } from './engine.ts';
import { handleSignals } from './interrupt.ts';
import { localMounts } from './mount.ts';
import { CLI_PAGE, cliPageBundle, PAGE_CACHE } from './page-bundle.ts';
import { gpuFault, pageFault } from './test-faults.ts';
import { fromWire, toWire, type WireEvent } from './wire.ts';

/**
 * Whether the CLI page's script ran: it marks itself ready as its last statement, and a module script runs before the
 * page's load event, so the short wait is only a margin.
 */
const pageStarted = (session: GpuSession) =>
  session.page
    .waitForFunction(() => window.__webtuneReady === true, { timeout: 2_000 })
    .then(() => true)
    .catch(() => false);

/**
 * The page loaded, with its script run: the built page's files are local (page-bundle.ts), so a script that did not
 * run is retried once (a request that failed on a busy machine) before the command gives up with what to look at.
 */
async function startPage(session: GpuSession): Promise<void> {
  if (await pageStarted(session)) return;
  await session.page.reload({ waitUntil: 'load' });
  if (await pageStarted(session)) return;
  throw new Error(
    "the trainer's page did not start: its script failed to load twice (see the page's errors above, or run with --verbose). " +
      `If the page's build in ${PAGE_CACHE} looks damaged, delete that folder and run the command again.`,
  );
}

/** `profile`: Chromium's profile folder, kept between runs (Hub downloads, adapters, checkpoints); undefined: a throwaway one. */
export async function openBrowserHost(options: HostOptions, profile: string | undefined): Promise<TrainerHost> {
  // The page built once per change of its sources, served as files: no vite in this process (page-bundle.ts). The
  // note is for a person waiting at a terminal; scripts and tests reading stderr get the command's lines only.
  const bundle = await cliPageBundle({
    onBuild: process.stderr.isTTY
      ? () => process.stderr.write("webtune: building the CLI's page (once after its sources change)\n")
      : undefined,
  });
  const open = (userDataDir?: string) =>
    openGpuSession({
      path: CLI_PAGE,
      gpu: options.gpu,
      staticDir: bundle.dir,
      handlers: [localMounts(options.mounts), ...gpuFault(bundle), ...pageFault(bundle)],
      userDataDir,
      verbose: options.verbose,
      ownSignals: true, // interrupt.ts: Ctrl-C stops a run cleanly
      stableOrigin: userDataDir !== undefined, // the profile's adapters and checkpoints, whatever the port
    });
  let session: GpuSession;
  try {
    session = await open(profile);
  } catch (err) {
    // Another webtune run holds the profile: carry on with a throwaway one.
    if (profile === undefined || !/already running|lock|SingletonLock/i.test(String(err))) throw err;
    process.stderr.write('webtune: the shared browser profile is in use; using a temporary one (nothing cached this run)\n');
    session = await open(undefined);
  }
  handleSignals(() => session.kill());
  try {
    const calls = await PageCalls.attach(session.page);
    await session.page.exposeFunction('__webtuneEvent', (event: WireEvent) =>
      options.dispatch({ channel: event.channel, args: fromWire(event.args) as unknown[] }),
    );
    await startPage(session);
    return {
      serverUrl: session.server.url,
      run: async (method, args, withCallback) => fromWire(await calls.call('__webtuneCall', method, toWire(args), withCallback)),
      close: async () => {
        handleSignals(undefined);
        await session.close();
      },
    };
  } catch (err) {
    handleSignals(undefined);
    await session.close();
    throw err;
  }
}
