// DNS over TCP framing (RFC 1035 4.2.2 / RFC 7766): every message is preceded by its length as a
// 2-byte big-endian integer. Only the framing lives here; the messages themselves are encoded and
// decoded by dns-packet.

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
