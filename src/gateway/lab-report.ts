// The numbered steps of `wgts lab` (and `wgts lab --ha`): ✔ / ✘ lines, counted, with timings.
import { setTimeout as sleep } from 'node:timers/promises';

export type Mark = 'pass' | 'fail' | 'skip';
const SYMBOL: Record<Mark, string> = { pass: '✔', fail: '✘', skip: '-' };

/** Numbered steps with ✔ / ✘ lines; counts what passed, failed and was skipped. */
export class Report {
  private step = 0;
  readonly counts: Record<Mark, number> = { pass: 0, fail: 0, skip: 0 };
  constructor(private readonly write: (text: string) => void) {}

  line(text = ''): void {
    this.write(`${text}\n`);
  }

  /** A numbered step with its result and optional indented detail lines. */
  result(mark: Mark, text: string, details: readonly string[] = []): boolean {
    this.counts[mark]++;
    this.line(`${String(++this.step).padStart(2)}. ${SYMBOL[mark]} ${text}`);
    for (const d of details) this.line(d === '' ? '' : `       ${d}`);
    return mark !== 'fail';
  }

  /** A numbered step made of several checks (see check). */
  heading(text: string): void {
    this.line(`${String(++this.step).padStart(2)}. ${text}`);
  }

  check(mark: Mark, text: string): boolean {
    this.counts[mark]++;
    this.line(`      ${SYMBOL[mark]} ${text}`);
    return mark !== 'fail';
  }
}

/** Seconds since `t0`, one decimal. */
export const secondsSince = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

/** Polls `check` every 50 ms until it returns a value other than null (bounded); null at the deadline. */
export async function poll<T>(check: () => T | null | Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null || Date.now() >= deadline) return v;
    await sleep(50);
  }
}

