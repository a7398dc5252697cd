// `wgts show [IFNAME] --watch [--interval S] [--count N]`: looks at the interfaces every interval
// and shows rates (gateway/watch.ts). On a terminal it draws one screen in place, in the terminal's
// alternate screen with the cursor hidden and the keyboard in raw mode (so typed keys do not scribble
// on it; q or Ctrl-C quits), and puts all of that back however it ends: q, Ctrl-C, SIGINT, SIGTERM,
// SIGHUP, or an exception (the 'exit' handler writes the restoring sequence synchronously). When
// stdout is not a terminal it prints plain lines, one per peer and look.
import { writeSync } from 'node:fs';
import { listUapiInterfaces, showInterface, type ShowInterface } from '../gateway/show.js';
import { computeRates, renderPlain, renderScreen, type PeerRates, type WatchSample } from '../gateway/watch.js';

/** Alternate screen on, cursor hidden / cursor shown, alternate screen off. */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';

export interface WatchOptions {
  /** One interface, or null for all. */
  name: string | null;
  intervalMs: number;
  /** Stop after this many looks (default: until stopped). */
  count?: number;
}

/** One look at the interfaces (errors become lines of their own). */
async function sample(name: string | null): Promise<{ sample: WatchSample; errors: string[] }> {
  const names = name === null ? listUapiInterfaces() : [name];
  const interfaces: ShowInterface[] = [];
  const errors: string[] = [];
  for (const n of names) {
    try {
      interfaces.push(await showInterface(n));
    } catch (e) {
      errors.push(`${n}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { sample: { at: performance.now(), interfaces }, errors };
}

const clock = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Lines cut to the terminal's width (a wrapped line would scroll the screen). */
function fit(lines: readonly string[], width: number): string[] {
  return lines.map((l) => ([...l].length > width ? [...l].slice(0, Math.max(1, width - 1)).join('') + '…' : l));
}

/** Runs the watch until it is stopped; resolves with the exit code. */
export async function runWatch(opts: WatchOptions): Promise<number> {
  const tty = process.stdout.isTTY === true;
  let stopped = false;
  let wake: () => void = () => undefined;
  const stop = (): void => { stopped = true; wake(); };
  let restored = !tty;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (process.stdin.isTTY) {
      try { process.stdin.setRawMode(false); } catch { /* stdin already closed */ }
    }
    writeSync(1, LEAVE);
  };
  const onKey = (d: Buffer): void => { if (d.includes(0x03) || d.includes(0x71) || d.includes(0x51)) stop(); };
  let last: WatchSample | null = null;
  let rates = new Map<string, PeerRates>();
  let lastLines: string[] = [];
  const draw = (lines: readonly string[]): void => {
    lastLines = [...lines];
    const width = process.stdout.columns ?? 80;
    const height = process.stdout.rows ?? 24;
    const shown = fit(lines, width).slice(0, height);
    process.stdout.write(`\x1b[H${shown.map((l) => `${l}\x1b[K`).join('\n')}\x1b[J`);
  };
  const onResize = (): void => draw(lastLines);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, stop);
  process.on('exit', restore);
  // A closed pipe (`| head`) ends the watch instead of throwing EPIPE.
  const onStdoutError = (): void => stop();
  process.stdout.on('error', onStdoutError);
  if (tty) {
    process.stdout.write(ENTER);
    process.stdout.on('resize', onResize);
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      process.stdin.on('data', onKey);
      process.stdin.resume();
    }
  }
  let code = 0;
  try {
    for (let n = 0; !stopped && (opts.count === undefined || n < opts.count); n++) {
      const { sample: cur, errors } = await sample(opts.name);
      rates = computeRates(last, cur, rates);
      last = cur;
      const nowSec = Math.floor(Date.now() / 1000);
      if (opts.name !== null && errors.length > 0 && cur.interfaces.length === 0 && !tty) {
        for (const e of errors) process.stderr.write(`wgts: ${e}\n`);
        code = 1;
        break;
      }
      if (tty) {
        draw([...renderScreen(cur, rates, { intervalMs: opts.intervalMs, nowSec, clock: clock() }), ...errors.map((e) => `! ${e}`)]);
      } else {
        const lines = renderPlain(cur, rates, { nowSec, clock: clock() });
        for (const e of errors) process.stderr.write(`wgts: ${e}\n`);
        if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
      }
      if (opts.count !== undefined && n + 1 >= opts.count) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs);
        wake = () => { clearTimeout(t); resolve(); };
      });
    }
  } finally {
    for (const s of signals) process.off(s, stop);
    process.stdout.off('error', onStdoutError);
    if (tty) {
      process.stdout.off('resize', onResize);
      process.stdin.off('data', onKey);
      process.stdin.pause();
    }
    restore();
    process.off('exit', restore);
  }
  return code;
}
