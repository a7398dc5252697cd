// BLAKE2s (RFC 7693) with key and output length, HMAC-BLAKE2s and WireGuard's KDF, in
// TypeScript on module scratch: nothing is allocated per call and every state, block and
// intermediate (HMAC pads, PRK, KDF outputs in flight) is zeroed before a function returns.
// The pure backend's handshake hashing and both backends' keyed MAC fallback; node:crypto's
// 'blake2s256' takes neither a key nor an output length. Checked against every BLAKE2s, HMAC and
// KDF vector in test/vectors.

const IV = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);

/** The message schedule permutations, one row of 16 per round. */
const SIGMA = Uint8Array.of(
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
);

// The one hash state (single-threaded; each worker has its own module instance).
const H = new Uint32Array(8);
const M = new Uint32Array(16);
const BUF = new Uint8Array(64);
let bufLen = 0;
let t0 = 0;
let t1 = 0;
let outLen = 32;

// Scratch of the composite functions.
const PAD = new Uint8Array(64);
const INNER = new Uint8Array(32);
const PRK = new Uint8Array(32);
const T = new Uint8Array(96);
const ONE_BYTE = new Uint8Array(1);
const LONG_KEY = new Uint8Array(32);

/** One compression of BUF into H; the working state lives in locals (32-bit integer ops). */
function compress(last: boolean): void {
  for (let i = 0; i < 16; i++) {
    const j = i * 4;
    M[i] = BUF[j]! | (BUF[j + 1]! << 8) | (BUF[j + 2]! << 16) | (BUF[j + 3]! << 24);
  }
  let v0 = H[0]! | 0, v1 = H[1]! | 0, v2 = H[2]! | 0, v3 = H[3]! | 0;
  let v4 = H[4]! | 0, v5 = H[5]! | 0, v6 = H[6]! | 0, v7 = H[7]! | 0;
  let v8 = IV[0]! | 0, v9 = IV[1]! | 0, v10 = IV[2]! | 0, v11 = IV[3]! | 0;
  let v12 = (IV[4]! ^ t0) | 0, v13 = (IV[5]! ^ t1) | 0, v14 = last ? ~IV[6]! : IV[6]! | 0, v15 = IV[7]! | 0;
  const s = SIGMA;
  for (let r = 0; r < 160; r += 16) {
    v0 = (v0 + v4 + M[s[r + 0]!]!) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + M[s[r + 1]!]!) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + M[s[r + 2]!]!) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + M[s[r + 3]!]!) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + M[s[r + 4]!]!) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + M[s[r + 5]!]!) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + M[s[r + 6]!]!) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + M[s[r + 7]!]!) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25);
    v0 = (v0 + v5 + M[s[r + 8]!]!) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + M[s[r + 9]!]!) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + M[s[r + 10]!]!) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + M[s[r + 11]!]!) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + M[s[r + 12]!]!) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + M[s[r + 13]!]!) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + M[s[r + 14]!]!) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + M[s[r + 15]!]!) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25);
  }
  H[0] = H[0]! ^ v0 ^ v8; H[1] = H[1]! ^ v1 ^ v9; H[2] = H[2]! ^ v2 ^ v10; H[3] = H[3]! ^ v3 ^ v11;
  H[4] = H[4]! ^ v4 ^ v12; H[5] = H[5]! ^ v5 ^ v13; H[6] = H[6]! ^ v6 ^ v14; H[7] = H[7]! ^ v7 ^ v15;
}

function addCounter(n: number): void {
  t0 += n;
  if (t0 > 0xffffffff) {
    t0 -= 0x100000000;
    t1 = (t1 + 1) >>> 0;
  }
}

function init(len: number, key: Uint8Array | null): void {
  H.set(IV);
  H[0] = H[0]! ^ 0x01010000 ^ ((key === null ? 0 : key.length) << 8) ^ len;
  t0 = 0;
  t1 = 0;
  outLen = len;
  BUF.fill(0);
  bufLen = 0;
  if (key !== null && key.length > 0) {
    BUF.set(key);
    bufLen = 64;
  }
}

function update(b: Uint8Array, off: number, n: number): void {
  // The last block is compressed by final() with the last-block flag, so a full buffer is only
  // compressed once more input arrives.
  while (n > 0) {
    if (bufLen === 64) {
      addCounter(64);
      compress(false);
      bufLen = 0;
    }
    let take = 64 - bufLen;
    if (take > n) take = n;
    for (let i = 0; i < take; i++) BUF[bufLen + i] = b[off + i]!;
    bufLen += take;
    off += take;
    n -= take;
  }
}

/** Writes the digest to out[outOff..] and zeroes the state. */
function final(out: Uint8Array, outOff: number): void {
  addCounter(bufLen);
  BUF.fill(0, bufLen);
  compress(true);
  for (let i = 0; i < outLen; i++) out[outOff + i] = H[i >>> 2]! >>> ((i & 3) << 3);
  H.fill(0);
  M.fill(0);
  BUF.fill(0);
  bufLen = 0;
  t0 = 0;
  t1 = 0;
}

/** Options for {@link blake2s}: `key` 0..32 bytes (empty or absent = unkeyed), `outLen` 1..32. */
export interface Blake2sOptions {
  readonly key?: Uint8Array;
  readonly outLen: number;
}

/**
 * BLAKE2s of the concatenation of `parts` with an optional key and an output length of 1..32 bytes.
 * Throws RangeError for a key longer than 32 bytes or an output length outside 1..32 (caller bugs,
 * never data-dependent in WireGuard).
 */
export function blake2s(parts: Uint8Array | readonly Uint8Array[], opts: Blake2sOptions): Uint8Array {
  if (!Number.isInteger(opts.outLen) || opts.outLen < 1 || opts.outLen > 32) {
    throw new RangeError(`BLAKE2s output length must be 1..32, got ${opts.outLen}`);
  }
  const key = opts.key;
  if (key !== undefined && key.length > 32) throw new RangeError(`BLAKE2s key must be at most 32 bytes, got ${key.length}`);
  init(opts.outLen, key ?? null);
  if (parts instanceof Uint8Array) update(parts, 0, parts.length);
  else for (const p of parts) update(p, 0, p.length);
  const out = new Uint8Array(opts.outLen);
  final(out, 0);
  return out;
}

/** WireGuard's MAC: keyed BLAKE2s with a 16-byte output over the concatenation of `parts`. */
export function blake2sMac16(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return blake2s(parts, { key, outLen: 16 });
}

/** Keyed BLAKE2s-128 of buf[off, off + len) under `key` (1..32 bytes) into out[outOff, outOff + 16). */
export function macInto(key: Uint8Array, buf: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  if (key.length < 1 || key.length > 32) throw new RangeError(`BLAKE2s MAC key must be 1..32 bytes, got ${key.length}`);
  if (off < 0 || len < 0 || off + len > buf.length || outOff < 0 || outOff + 16 > out.length) throw new RangeError('BLAKE2s MAC range out of bounds');
  init(16, key);
  update(buf, off, len);
  final(out, outOff);
}

/** BLAKE2s-256(a || b) into out[0, 32); out may be a or b (inputs are absorbed first). */
export function hashInto(out: Uint8Array, a: Uint8Array, b?: Uint8Array): void {
  if (out.length < 32) throw new RangeError('BLAKE2s output must hold 32 bytes');
  init(32, null);
  update(a, 0, a.length);
  if (b !== undefined) update(b, 0, b.length);
  final(out, 0);
}

/** HMAC-BLAKE2s-256 over a || b under key (at most 64 bytes) into out[outOff, outOff + 32). */
function hmacInto(key: Uint8Array, a: Uint8Array, aOff: number, aLen: number, b: Uint8Array | null, out: Uint8Array, outOff: number): void {
  PAD.fill(0x36);
  for (let i = 0; i < key.length; i++) PAD[i] = PAD[i]! ^ key[i]!;
  init(32, null);
  update(PAD, 0, 64);
  update(a, aOff, aLen);
  if (b !== null) update(b, 0, b.length);
  final(INNER, 0);
  for (let i = 0; i < 64; i++) PAD[i] = PAD[i]! ^ (0x36 ^ 0x5c);
  init(32, null);
  update(PAD, 0, 64);
  update(INNER, 0, 32);
  final(out, outOff);
  PAD.fill(0);
  INNER.fill(0);
}

/** HMAC-BLAKE2s-256 of the concatenation of parts (the pure backend's generic hmac). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  // RFC 2104: a key longer than the block is replaced by its hash.
  const k = key.length > 64 ? (hashInto(LONG_KEY, key), LONG_KEY) : key;
  PAD.fill(0x36);
  for (let i = 0; i < k.length; i++) PAD[i] = PAD[i]! ^ k[i]!;
  LONG_KEY.fill(0);
  init(32, null);
  update(PAD, 0, 64);
  for (const p of parts) update(p, 0, p.length);
  final(INNER, 0);
  for (let i = 0; i < 64; i++) PAD[i] = PAD[i]! ^ (0x36 ^ 0x5c);
  init(32, null);
  update(PAD, 0, 64);
  update(INNER, 0, 32);
  const out = new Uint8Array(32);
  final(out, 0);
  PAD.fill(0);
  INNER.fill(0);
  return out;
}

/**
 * WireGuard's KDF (HKDF over HMAC-BLAKE2s): T1 of `input` under chaining key `ck` (the HMAC key,
 * at most 64 bytes; WireGuard's is 32) into t1, and T2
 * into t2 / T3 into t3 when given (32 bytes each). Outputs may alias ck or input: they are
 * written after everything has been computed.
 */
export function kdfInto(ck: Uint8Array, input: Uint8Array, t1: Uint8Array, t2?: Uint8Array, t3?: Uint8Array): void {
  if (ck.length > 64) throw new RangeError(`KDF chaining key must be at most 64 bytes, got ${ck.length}`);
  const n = t3 !== undefined ? 3 : t2 !== undefined ? 2 : 1;
  if (t3 !== undefined && t2 === undefined) throw new RangeError('KDF: t3 without t2');
  hmacInto(ck, input, 0, input.length, null, PRK, 0);
  for (let i = 0; i < n; i++) {
    ONE_BYTE[0] = i + 1;
    if (i === 0) hmacInto(PRK, ONE_BYTE, 0, 1, null, T, 0);
    else hmacInto(PRK, T, (i - 1) * 32, 32, ONE_BYTE, T, i * 32);
  }
  for (let i = 0; i < 32; i++) t1[i] = T[i]!;
  if (t2 !== undefined) for (let i = 0; i < 32; i++) t2[i] = T[32 + i]!;
  if (t3 !== undefined) for (let i = 0; i < 32; i++) t3[i] = T[64 + i]!;
  PRK.fill(0);
  T.fill(0);
  ONE_BYTE[0] = 0;
}
