// Test helper: look for copies of secrets in another process, two ways.
// - findInSnapshot: in a V8 heap snapshot (a file written after a full GC, holding every live JS
//   string), search for each key as text: hex (both cases), base64 and base64url. Typed-array
//   contents are not part of a snapshot: raw bytes are what the memory scan is for.
// - countInMemory: in the process's memory itself (/proc/PID/mem, every readable private
//   mapping: JS heap, off-heap buffers, malloc arenas, stacks), count the raw key bytes. This also
//   sees freed memory nobody cleared, which is exactly where a forgotten copy would linger.
// Needles are bytes 16..30 of a key: X25519 clamps bytes 0 and 31 (a clamped copy still matches),
// and malloc writes its free-list pointers over the first 16 bytes of a freed small block (a
// freed but uncleared copy still matches).

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/** Kinds of the key records a test child writes on its key pipe (one kind byte + 32 key bytes). */
export const KIND_EPHEMERAL = 2;
export const KIND_SESSION = 3;

/** The text forms of a key that a leak would most likely take. */
export function textForms(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  return [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64'), b.toString('base64url')];
}

/** Names of the keys (label -> key) any of whose text forms occurs in the snapshot file. */
export function findInSnapshot(snapshotPath: string, keys: ReadonlyMap<string, Uint8Array>): string[] {
  const text = readFileSync(snapshotPath, 'latin1');
  const found: string[] = [];
  for (const [label, key] of keys) {
    for (const form of textForms(key)) {
      if (text.includes(form)) {
        found.push(`${label} (${form.slice(0, 12)}...)`);
        break;
      }
    }
  }
  return found;
}

interface Region {
  readonly start: number;
  readonly end: number;
}

/** Readable private mappings of `pid` (anonymous memory, heap, stacks, writable data). */
function readableRegions(pid: number): Region[] {
  const out: Region[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (m === null) continue;
    const [, from, to, perms, inode, name] = m;
    if (perms![0] !== 'r' || perms![3] !== 'p') continue;
    if (name === '[vvar]' || name === '[vsyscall]' || name === '[vdso]') continue;
    // File-backed read-only mappings are code and constants from disk: no secret lives there.
    if (inode !== '0' && perms![1] !== 'w') continue;
    out.push({ start: parseInt(from!, 16), end: parseInt(to!, 16) });
  }
  return out;
}

/** The process state letter from /proc/PID/stat ('T' = stopped). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/**
 * How often each needle occurs in the memory of process `pid` (needles of at least 15 bytes).
 * The process is stopped (SIGSTOP) for the scan, so its memory holds still, and continued after.
 * The caller must be allowed to read /proc/PID/mem (root, or ptrace rights over a child).
 */
export function countInMemory(pid: number, needles: readonly Uint8Array[]): number[] {
  process.kill(pid, 'SIGSTOP');
  try {
    const until = Date.now() + 5000;
    while (procState(pid) !== 'T') {
      if (Date.now() > until) throw new Error(`process ${pid} did not stop`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
    return scan(pid, needles);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

function scan(pid: number, needles: readonly Uint8Array[]): number[] {
  const counts = needles.map(() => 0);
  const maxNeedle = Math.max(...needles.map((n) => n.length));
  const chunk = Buffer.allocUnsafeSlow(8 << 20);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const r of readableRegions(pid)) {
      // Overlapping reads so a needle across a chunk boundary is seen once.
      for (let pos = r.start; pos < r.end; ) {
        const want = Math.min(chunk.length, r.end - pos);
        let got: number;
        try {
          got = readSync(fd, chunk, 0, want, pos);
        } catch (e) {
          // Some special mappings refuse reads (EIO); anything else is a failed scan.
          if ((e as NodeJS.ErrnoException).code === 'EIO') break;
          throw e;
        }
        if (got <= 0) break;
        const view = chunk.subarray(0, got);
        needles.forEach((needle, i) => {
          for (let at = view.indexOf(needle); at >= 0; at = view.indexOf(needle, at + 1)) {
            // A match entirely inside the overlap was counted by the previous read.
            if (pos === r.start || at + needle.length > maxNeedle - 1) counts[i]!++;
          }
        });
        if (pos + got >= r.end) break;
        pos += got - (maxNeedle - 1);
      }
    }
  } finally {
    closeSync(fd);
    chunk.fill(0);
  }
  return counts;
}

/** Bytes 16..30 of a key: what survives clamping and being freed (see the top of this file). */
export function needleOf(key: Uint8Array): Uint8Array {
  return key.slice(16, 31);
}
