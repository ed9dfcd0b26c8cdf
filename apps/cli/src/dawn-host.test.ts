// The Dawn host's console, as the browser's page forwards its own: warnings and errors on stderr always, the rest only
// with --verbose, and stdout never (it is the command's: --json).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { forwardConsole } from './dawn-host.ts';

afterEach(() => vi.restoreAllMocks());

describe('forwardConsole', () => {
  it('sends warnings and errors to stderr, drops the rest without --verbose, and puts the console back', () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const log = console.log;
    const restore = forwardConsole(false);
    console.error('GPU validation error', 3);
    console.warn('could not cache');
    console.log('noise');
    console.info('noise');
    restore();
    expect(err.mock.calls.map((c) => c[0])).toEqual([
      '[trainer console.error] GPU validation error 3\n',
      '[trainer console.warn] could not cache\n',
    ]);
    expect(out).not.toHaveBeenCalled();
    expect(console.log).toBe(log);
  });

  it('with --verbose, log, info and debug go to stderr too', () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const restore = forwardConsole(true);
    console.log('step', 1);
    console.debug('detail');
    restore();
    expect(err.mock.calls.map((c) => c[0])).toEqual(['[trainer console.log] step 1\n', '[trainer console.debug] detail\n']);
  });
});
