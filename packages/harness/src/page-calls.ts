// Calls into a page that may run for hours (a training run, a benchmark suite on SwiftShader). page.evaluate would
// hold one DevTools request open until the page's promise settles, and puppeteer abandons a request after its
// protocol timeout (chromium.ts): instead a short request starts the call, and the page sends the outcome back
// through an exposed binding. Arguments and results cross as JSON; what JSON loses is the caller's to encode (the
// CLI's wire codec).
import type { Page } from 'puppeteer';

/** The function the page calls, once per call, with the call's id and its outcome. */
const RESULT_BINDING = '__webtuneResult';

/** A call's outcome as the page sends it: the result, or the error it threw. */
type Outcome = { result?: unknown } | { error: { name: string; message: string; stack: string } };

/** The page's functions that return a promise: what `PageCalls.call` can start. */
type PageFunction = {
  [K in keyof Window]: Window[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof Window] &
  string;

/** An error thrown by the function a call ran in the page, with its class name and stack there. */
export class PageError extends Error {
  override name = 'PageError';
  constructor(
    message: string,
    /** The error's class in the page (ConfigError, DatasetError, TypeError, ...). */
    readonly pageName: string,
    /** Its stack in the page (printed with WEBTUNE_DEBUG). */
    readonly pageStack: string,
  ) {
    super(message);
    if (pageStack) this.stack = `PageError (${pageName} in the page): ${pageStack}`;
  }
}

// JavaScript's own errors (a bug, not a refused input) keep their class name in the message.
const BUILTIN_ERRORS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError']);

/** The trainer's error as the CLI reports it: its message (a builtin error's class name before it), class and stack. */
export function pageError({ name, message, stack }: { name: string; message: string; stack: string }): PageError {
  const text = !message ? name || 'unknown error in the page' : BUILTIN_ERRORS.has(name) ? `${name}: ${message}` : message;
  return new PageError(text, name, stack);
}

/**
 * Starts `window[fn](...args)` and sends its outcome to `binding`. Runs in the page: puppeteer sends its source, so it
 * uses nothing from this module, and names no inner function (tsx's keepNames would wrap it in a helper the page lacks).
 */
function startInPage(id: number, fn: string, args: unknown[], binding: string): void {
  const page = window as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  void Promise.resolve()
    .then(() => {
      if (typeof page[fn] !== 'function') throw new Error(`the page defines no function ${fn} to call`);
      return page[fn](...args);
    })
    .then((result) => page[binding](id, { result }))
    // The call's error, or the result's own when it cannot be sent (not JSON): the call ends either way.
    .catch((err) => {
      const e = err instanceof Error || err instanceof DOMException ? err : new Error(String(err));
      return page[binding](id, { error: { name: e.name, message: e.message, stack: e.stack ?? '' } });
    });
}

/** The calls into one page; `attach` it once, before the page calls back (the binding survives reloads). */
export class PageCalls {
  /** Calls started in the page whose outcome has not come back. */
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (err: Error) => void }>();
  private nextId = 1;

  private constructor(private readonly page: Page) {}

  static async attach(page: Page): Promise<PageCalls> {
    const calls = new PageCalls(page);
    await page.exposeFunction(RESULT_BINDING, (id: number, outcome: Outcome) => calls.settle(id, outcome));
    // A call waits for its outcome from the page: if the page or the browser goes away first, it never comes.
    page.on('error', (err) => calls.abandon(`the browser's page crashed (${err.message})`));
    page.on('close', () => calls.abandon("the browser's page closed"));
    page.browser().on('disconnected', () => calls.abandon('the browser exited'));
    return calls;
  }

  /**
   * Runs `window[fn](...args)` in the page and resolves with its result; rejects with a PageError if it throws, or
   * with the reason if the page crashes or closes or the browser exits first.
   */
  async call<K extends PageFunction>(fn: K, ...args: Parameters<Window[K]>): Promise<Awaited<ReturnType<Window[K]>>> {
    const id = this.nextId++;
    const outcome = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    outcome.catch(() => {}); // rejected while the start below is still awaited: that failure is the one thrown
    try {
      await this.page.evaluate(startInPage, id, fn, args as unknown[], RESULT_BINDING);
    } catch (err) {
      this.pending.delete(id);
      throw err;
    }
    return (await outcome) as Awaited<ReturnType<Window[K]>>;
  }

  private settle(id: number, outcome: Outcome): void {
    const waiting = this.pending.get(id);
    this.pending.delete(id);
    if ('error' in outcome) waiting?.reject(pageError(outcome.error));
    else waiting?.resolve(outcome.result);
  }

  /** Fails every call still waiting for the page. */
  private abandon(why: string): void {
    for (const { reject } of this.pending.values()) reject(new Error(`${why} before the call finished`));
    this.pending.clear();
  }
}
