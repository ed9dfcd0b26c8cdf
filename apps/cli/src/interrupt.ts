// Ctrl-C (SIGINT), SIGTERM and SIGHUP. Chromium dies with this process however it ends (its DevTools pipe closes:
// harness/chromium.ts); these handlers make the ending orderly. By default a signal ends the browser and exits with
// 128 + the signal's number. A command that can stop cleanly (train) takes the first signal itself while it runs; a
// second one ends everything at once.

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
export type StopSignal = keyof typeof EXIT_CODES;

let killBrowser: (() => void) | undefined;
let graceful: ((signal: StopSignal) => void) | undefined;
let received: StopSignal | undefined;
let installed = false;

/** The exit code of a process ended by `signal`, as a shell reports it. */
export function exitCodeFor(signal: StopSignal): number {
  return EXIT_CODES[signal];
}

function onSignal(signal: StopSignal): void {
  const first = received === undefined;
  received ??= signal;
  if (first && graceful) {
    graceful(signal);
    return;
  }
  killBrowser?.();
  process.exit(exitCodeFor(signal));
}

/** Installs the handlers (once); `kill` ends the current browser synchronously, undefined when there is none. */
export function handleSignals(kill: (() => void) | undefined): void {
  killBrowser = kill;
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(EXIT_CODES) as StopSignal[]) process.on(signal, () => onSignal(signal));
}

/** While set, the first signal calls `stop` instead of ending the process. Returns the function that unsets it. */
export function stopGracefully(stop: (signal: StopSignal) => void): () => void {
  graceful = stop;
  return () => {
    if (graceful === stop) graceful = undefined;
  };
}

/** The first signal received, if any. */
export function stopSignal(): StopSignal | undefined {
  return received;
}
