// The last line of defence of a long-running command (`wgts up`, `wgts-go`): an exception nothing
// caught, or a promise rejection nobody handled, is a bug. The process must not linger half
// working, and must not die leaving the host changed (routes, masquerade rules, DNS, the UAPI
// socket, the TUN): the error is logged with its stack, the command's cleanup runs (bounded in
// time), and the process exits with EXIT_CRASH.
//
// Test hook, inert unless set: with WGTS_TEST_CRASH_ON=SIGUSR2 (any catchable signal name) in the
// environment, that signal makes the running process throw an exception from a timer callback,
// the way a bug in a callback of the event loop would. It exists so tests can check the cleanup
// above end to end; without the variable nothing listens for the signal.

/** Exit status after an uncaught exception (EX_SOFTWARE of sysexits.h: an internal error). */
export const EXIT_CRASH = 70;

/** How long the cleanup may take before the process exits anyway (ms). */
export const CRASH_CLEANUP_LIMIT_MS = 10_000;

/** The environment variable of the test hook. */
export const TEST_CRASH_ENV = 'WGTS_TEST_CRASH_ON';

let crashing = false;

/**
 * True once an uncaught exception is being handled: a command whose orderly end the cleanup
 * itself triggers (its interface closes) must exit with EXIT_CRASH, not 0.
 */
export function crashInProgress(): boolean {
  return crashing;
}

/**
 * Installs the handlers: on an uncaught exception or unhandled rejection, `log` gets the error
 * (with its stack), then `cleanup` runs (at most CRASH_CLEANUP_LIMIT_MS), then the process exits
 * with EXIT_CRASH. A further error during the cleanup is logged and does not interrupt it.
 * Returns a function that removes the handlers again (for the orderly end of the command).
 */
export function exitCleanlyOnCrash(log: (line: string) => void, cleanup: () => Promise<void>): () => void {
  const removeHook = installTestCrashHook();
  const onCrash = (e: unknown, origin: string): void => {
    const what = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
    const kind = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    if (crashing) {
      log(`another ${kind} while cleaning up: ${what}`);
      return;
    }
    crashing = true;
    log(`fatal: ${kind}: ${what}`);
    log('undoing what was set up, then exiting');
    const limit = setTimeout(() => {
      log(`cleanup did not finish within ${CRASH_CLEANUP_LIMIT_MS / 1000} s; exiting anyway`);
      process.exit(EXIT_CRASH);
    }, CRASH_CLEANUP_LIMIT_MS);
    cleanup().then(
      () => undefined,
      (err: unknown) => log(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`),
    ).finally(() => {
      clearTimeout(limit);
      process.exit(EXIT_CRASH);
    });
  };
  process.on('uncaughtException', onCrash);
  return () => {
    process.off('uncaughtException', onCrash);
    removeHook();
  };
}

/** The WGTS_TEST_CRASH_ON hook (see the top of this file); a no-op without the variable. */
function installTestCrashHook(): () => void {
  const sig = process.env[TEST_CRASH_ENV];
  if (sig === undefined || sig === '') return () => undefined;
  if (!/^SIG[A-Z0-9]+$/.test(sig)) throw new Error(`${TEST_CRASH_ENV}=${sig}: not a signal name`);
  const signal = sig as NodeJS.Signals;
  const onSignal = (): void => {
    setTimeout(() => {
      throw new Error(`deliberate uncaught exception (test hook ${TEST_CRASH_ENV}=${signal})`);
    }, 0);
  };
  process.on(signal, onSignal);
  return () => { process.off(signal, onSignal); };
}
