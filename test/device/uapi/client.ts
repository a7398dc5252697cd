// A raw UAPI socket client for tests: writes chunks, collects the reply bytes and reports whether
// the server closed the connection. Every wait is bounded.

import { connect } from 'node:net';

export interface Exchange {
  /** Everything the server wrote, as latin1 text. */
  text: string;
  /** True when the server ended the connection. */
  closed: boolean;
}

/**
 * Connects to `path`, writes `chunks` one by one (pausing `gapMs` between them), then waits until
 * `replies` errno lines have arrived and the server has closed or stayed silent for `settleMs`.
 * `end` half-closes our side after the last chunk.
 */
export function talk(
  path: string,
  chunks: (string | Buffer)[],
  opts: { replies?: number; end?: boolean; gapMs?: number; settleMs?: number; timeoutMs?: number } = {},
): Promise<Exchange> {
  const replies = opts.replies ?? 1;
  const settleMs = opts.settleMs ?? 150;
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let text = '';
    let closed = false;
    let done = false;
    let settle: NodeJS.Timeout | null = null;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (settle) clearTimeout(settle);
      s.destroy();
      resolve({ text, closed });
    };
    const deadline = setTimeout(() => {
      done = true;
      s.destroy();
      reject(new Error(`no complete reply from ${path} within ${opts.timeoutMs ?? 5000} ms; got ${JSON.stringify(text.slice(0, 200))}`));
    }, opts.timeoutMs ?? 5000);
    const maybeSettle = (): void => {
      if ((text.match(/errno=-?\d+\n\n/g) ?? []).length >= replies && settle === null) settle = setTimeout(finish, settleMs);
    };
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      maybeSettle();
    });
    s.on('end', () => {
      closed = true;
      finish();
    });
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', () => {
      closed = true;
      finish();
    });
    s.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (done) return;
        s.write(chunks[i] as string | Buffer);
        if (i < chunks.length - 1) await new Promise((r) => setTimeout(r, opts.gapMs ?? 100));
      }
      if (opts.end) s.end();
      maybeSettle();
    });
  });
}

/** True when something accepts a connection on the UNIX socket `path`. */
export function connectable(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
