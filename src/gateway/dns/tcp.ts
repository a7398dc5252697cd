// DNS over TCP (RFC 1035 4.2.2 / RFC 7766): the 2-byte length framing, and the serving of client
// connections with the limits that keep a few clients from holding the service:
//
// - at most `maxPerSource` connections per source address (the server's maxConnections bounds
//   them all);
// - a deadline per message, not an idle timer: every message must arrive complete within
//   `messageTimeoutMs` of the connection's start, of the previous complete message or of the
//   previous answer sent. Bytes that do not complete a message do not move the deadline, so a
//   client dribbling a byte at a time (slowloris) is cut off like a silent one;
// - at most `maxWaiting` queries awaiting an answer and `maxUnsent` answer bytes per connection,
//   beyond which the connection is not read until they drain.
// The messages themselves are encoded and decoded by dns-packet elsewhere.
import type net from 'node:net';

/** Prefixes a DNS message with its 2-byte length for a TCP stream. */
export function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  out.set(msg, 2);
  return out;
}

/**
 * Splits a TCP byte stream into DNS messages. Holds at most one partial message (bounded by
 * `maxMessage`); a declared length above `maxMessage` is a protocol error (the caller closes the
 * connection) and is detected from the 2-byte prefix alone, before any body is buffered.
 */
export class FrameReader {
  private pending: Buffer | null = null;

  constructor(private readonly maxMessage: number) {}

  /**
   * Feeds a chunk; calls `onMessage` for each complete message (a buffer owned by the callee).
   * Returns 'oversize' when a declared length exceeds the bound, 'stopped' when `onMessage`
   * returned false (the rest of the chunk is discarded), else 'ok'.
   */
  push(chunk: Buffer, onMessage: (msg: Buffer) => boolean): 'ok' | 'stopped' | 'oversize' {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let off = 0;
    while (buf.length - off >= 2) {
      const len = buf.readUInt16BE(off);
      if (len > this.maxMessage) return 'oversize';
      if (buf.length - off - 2 < len) break;
      const msg = buf.subarray(off + 2, off + 2 + len);
      off += 2 + len;
      if (!onMessage(msg)) return 'stopped';
    }
    // The tail is shorter than 2 + maxMessage bytes; copied so the chunk itself is not retained.
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
    return 'ok';
  }
}

/** The bounds of TcpClients (see the file comment). */
export interface TcpLimits {
  maxMessage: number;
  messageTimeoutMs: number;
  maxPerSource: number;
  maxWaiting: number;
  maxUnsent: number;
}

/** What TcpClients asks of the DNS service. */
export interface TcpHandler {
  /**
   * Handles one message. Returns false when it is malformed (the connection is closed); otherwise
   * `send` is called exactly once with the answer, at once or later.
   */
  message(msg: Buffer, send: (answer: Buffer) => void): boolean;
  /** A declared message length above the bound (the connection is closed). */
  oversize(source: string): void;
  /** A connection refused by the per-source limit, or closed by its message deadline. */
  limited(what: 'per-source' | 'deadline', source: string): void;
  error(source: string, e: Error): void;
}

/** The open client connections of one DNS service. */
export class TcpClients {
  private readonly perSource = new Map<string, number>();
  private readonly conns = new Set<net.Socket>();

  constructor(private readonly limits: TcpLimits, private readonly handler: TcpHandler) {}

  /** Open connections. */
  get size(): number {
    return this.conns.size;
  }

  /** Connections open from `source`. */
  from(source: string): number {
    return this.perSource.get(source) ?? 0;
  }

  /** Serves an accepted connection from `source` (an allowed client's normalized address). */
  accept(sock: net.Socket, source: string): void {
    const count = this.from(source);
    if (count >= this.limits.maxPerSource) {
      this.handler.limited('per-source', source);
      sock.destroy();
      return;
    }
    this.perSource.set(source, count + 1);
    this.conns.add(sock);
    const deadline = setTimeout(() => {
      if (sock.destroyed) return;
      this.handler.limited('deadline', source);
      sock.destroy();
    }, this.limits.messageTimeoutMs);
    sock.on('close', () => {
      clearTimeout(deadline);
      this.conns.delete(sock);
      const left = this.from(source) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
    });
    sock.on('error', (e) => this.handler.error(source, e));
    sock.setNoDelay(true);
    const reader = new FrameReader(this.limits.maxMessage);
    let waiting = 0;
    const throttle = (): void => {
      if (waiting >= this.limits.maxWaiting || sock.writableLength > this.limits.maxUnsent) sock.pause();
      else if (sock.isPaused()) sock.resume();
    };
    const send = (answer: Buffer): void => {
      waiting--;
      if (sock.destroyed) return;
      sock.write(frame(answer));
      deadline.refresh();
      throttle();
    };
    sock.on('drain', throttle);
    sock.on('data', (chunk: Buffer) => {
      const status = reader.push(chunk, (msg) => {
        deadline.refresh();
        waiting++;
        const ok = this.handler.message(msg, send);
        if (!ok) waiting--;
        return ok;
      });
      if (status === 'oversize') this.handler.oversize(source);
      if (status === 'ok') throttle();
      else sock.destroy();
    });
  }

  /** Closes every connection. */
  destroyAll(): void {
    for (const sock of this.conns) sock.destroy();
  }
}
