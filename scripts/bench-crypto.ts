// Crypto micro-benchmark: per-operation cost of each backend for the work WireGuard does per
// data packet (the in-place data-message AEAD, dataSeal / dataOpen, and the generic
// ChaCha20-Poly1305 seal / open, at 64 and 1420 bytes) and per handshake (X25519 and its public
// key, BLAKE2s-256 hash, KDF3, keyed BLAKE2s-128 MAC, on caller buffers), plus @noble/ciphers'
// ChaCha20-Poly1305 as the yardstick the pure backend's own implementation replaced. Each row is
// the best of several timed runs (the machine is shared); prints one plain-text table.
// Run: npx tsc -p tsconfig.json && node dist/scripts/bench-crypto.js

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { secretBytes } from '../src/crypto/bytes.js';
import { backends, type CryptoBackend } from '../src/crypto/index.js';

interface Case {
  readonly op: string;
  readonly bytes: number;
  readonly iterations: number;
  /** Builds the inputs once and returns the operation to time, or null when `b` lacks it. */
  readonly prepare: (b: CryptoBackend) => (() => void) | null;
}

const KEY = new Uint8Array(32).fill(7);
const NONCE = new Uint8Array(12);

function sealCase(bytes: number, iterations: number): Case {
  return {
    op: 'aead seal',
    bytes,
    iterations,
    prepare: (b) => {
      const plain = b.randomBytes(bytes);
      const out = new Uint8Array(bytes + 16);
      return () => void b.aeadSeal(KEY, NONCE, plain, null, out, 0);
    },
  };
}

function openCase(bytes: number, iterations: number): Case {
  return {
    op: 'aead open',
    bytes,
    iterations,
    prepare: (b) => {
      const sealed = new Uint8Array(bytes + 16);
      b.aeadSeal(KEY, NONCE, b.randomBytes(bytes), null, sealed, 0);
      const out = new Uint8Array(bytes);
      return () => {
        if (b.aeadOpen(KEY, NONCE, sealed, null, out, 0) !== bytes) throw new Error('open failed');
      };
    },
  };
}

/** dataSeal in place on one buffer (the engine's data path); only backends that have it. */
function dataSealCase(bytes: number, iterations: number): Case {
  return {
    op: 'data seal (in place)',
    bytes,
    iterations,
    prepare: (b) => {
      const seal = b.dataSeal;
      if (seal === undefined) return null;
      const buf = new Uint8Array(16 + bytes + 16);
      buf.set(b.randomBytes(bytes), 16);
      return () => void seal(KEY, 1, 0, buf, 16, bytes, 16);
    },
  };
}

/** dataOpen of one sealed message to the position after it in the same buffer. */
function dataOpenCase(bytes: number, iterations: number): Case {
  return {
    op: 'data open',
    bytes,
    iterations,
    prepare: (b) => {
      const seal = b.dataSeal;
      const open = b.dataOpen;
      if (seal === undefined || open === undefined) return null;
      const buf = new Uint8Array(bytes + 16 + bytes);
      buf.set(b.randomBytes(bytes), 0);
      seal(KEY, 1, 0, buf, 0, bytes, 0);
      return () => {
        if (open(KEY, 1, 0, buf, 0, bytes + 16, bytes + 16) !== bytes) throw new Error('open failed');
      };
    },
  };
}

const CASES: readonly Case[] = [
  dataSealCase(64, 20_000),
  dataOpenCase(64, 20_000),
  dataSealCase(1420, 20_000),
  dataOpenCase(1420, 20_000),
  sealCase(64, 20_000),
  openCase(64, 20_000),
  sealCase(1420, 20_000),
  openCase(1420, 20_000),
  {
    op: 'x25519Into (shared secret)',
    bytes: 32,
    iterations: 300,
    prepare: (b) => {
      const priv = secretBytes(32);
      b.randomFill(priv);
      const pub = b.x25519Public(b.randomBytes(32));
      const out = secretBytes(32);
      return () => void b.x25519Into(out, priv, pub);
    },
  },
  {
    op: 'x25519PublicInto',
    bytes: 32,
    iterations: 300,
    prepare: (b) => {
      const priv = secretBytes(32);
      b.randomFill(priv);
      const out = secretBytes(32);
      return () => void b.x25519PublicInto(out, priv);
    },
  },
  {
    op: 'hashInto (blake2s-256)',
    bytes: 64, // the handshake's hash(h || data) with 32-byte data
    iterations: 20_000,
    prepare: (b) => {
      const h = secretBytes(32);
      const data = b.randomBytes(32);
      return () => void b.hashInto(h, h, data);
    },
  },
  {
    op: 'kdfInto, 3 outputs',
    bytes: 32,
    iterations: 10_000,
    prepare: (b) => {
      const ck = secretBytes(32);
      const t2 = secretBytes(32);
      const t3 = secretBytes(32);
      const input = b.randomBytes(32);
      return () => void b.kdfInto(ck, input, ck, t2, t3);
    },
  },
  {
    op: 'macInto (blake2s-128)',
    bytes: 116, // mac1 of a handshake initiation covers its first 116 bytes
    iterations: 20_000,
    prepare: (b) => {
      const key = secretBytes(32);
      const msg = b.randomBytes(148);
      return () => void b.macInto(key, msg, 0, 116, msg, 116);
    },
  },
];

/** Best of five timed runs of `iterations` calls (after a warm-up), in µs per call. */
function time(fn: () => void, iterations: number): number {
  for (let i = 0; i < Math.ceil(iterations / 10); i++) fn(); // warm up the JIT
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e3 / iterations);
  }
  return best;
}

/** @noble/ciphers' ChaCha20-Poly1305 (a new cipher object per message, as its API requires). */
const NOBLE: readonly Case[] = [64, 1420].map((bytes) => ({
  op: 'aead seal (@noble/ciphers)',
  bytes,
  iterations: 20_000,
  prepare: (b: CryptoBackend) => {
    const plain = b.randomBytes(bytes);
    const out = new Uint8Array(bytes + 16);
    return () => void chacha20poly1305(KEY, NONCE).encrypt(plain, out);
  },
}));

const rows: string[][] = [['backend', 'operation', 'bytes', 'iterations', 'µs/op', 'ops/s']];
const started = Date.now();
const add = (name: string, c: Case, op: () => void): void => {
  const us = time(op, c.iterations);
  rows.push([name, c.op, String(c.bytes), String(c.iterations), us.toFixed(2), Math.round(1e6 / us).toLocaleString('en-US')]);
};
for (const backend of Object.values(backends)) {
  for (const c of CASES) {
    const op = c.prepare(backend);
    if (op !== null) add(backend.name, c, op);
  }
}
for (const c of NOBLE) add('noble', c, c.prepare(backends.pure)!);
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) console.log(r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
console.log(`\n${process.version}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
