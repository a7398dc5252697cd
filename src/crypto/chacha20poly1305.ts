// ChaCha20-Poly1305 (RFC 8439) in TypeScript, in place on the caller's buffers: the pure backend's
// AEAD for data messages (dataSeal / dataOpen) and handshake messages (aeadSeal / aeadOpen).
//
// Design (measured in scripts/bench-crypto.ts; README "The pure data path"):
// - ChaCha20 keeps its 16 state words in local variables (32-bit integer arithmetic, which V8
//   compiles to plain machine ops) and XORs each 64-byte keystream block into the data four bytes
//   at a time through a DataView over the data's ArrayBuffer (cached per buffer, so a packet
//   creates none; any alignment, any host byte order).
// - Poly1305 works in radix 2^22: six limbs held as doubles. A clamped r has limbs < 2^22, the
//   accumulator stays below 2^23 per limb, so every product (with the reduction factor 20 for
//   2^132 = 20 mod 2^130 - 5) is below 2^49.4 and a sum of six below 2^52: every operation is
//   exact in a double, no bigint, no 16-bit juggling.
// - Nothing is allocated per call. Key words, keystream and the one-time Poly1305 key live in
//   module scratch that is zeroed before each function returns.
// - Open authenticates first and decrypts only after the tag matched (constant-time compare), so a
//   forgery leaves the buffer untouched and needs no scratch copy.

/** The key as eight little-endian words (zeroed after each call). */
const K = new Uint32Array(8);
/** One keystream block (zeroed after each call). */
const KS = new Uint32Array(16);
/** Zero-padded tail block for Poly1305 and the lengths block. */
const PAD8 = new Uint8Array(16);
const PADV = new DataView(PAD8.buffer);
/** Poly1305 state: accumulator h0..h5, key r0..r5, s0..s3 (the final addend). */
const H = new Float64Array(6);
const R = new Float64Array(6);
/** r^2, for two blocks per step. */
const R2 = new Float64Array(6);
const S = new Uint32Array(4);
/** The tag as four little-endian words (zeroed after use). */
const TAG = new Uint32Array(4);
/** Byte i of the tag. */
const tagByte = (i: number): number => (TAG[i >>> 2]! >>> ((i & 3) << 3)) & 0xff;

const TWO22 = 4194304;
const M22 = 0x3fffff;

// ---- data views -----------------------------------------------------------------------------------

/**
 * Up to four cached DataViews (the device's slabs), so a packet creates none. DataView reads and
 * writes 32-bit little-endian words at any alignment and on any host (V8 compiles them inline):
 * measured 4x faster than byte-wise access for unaligned data, about as fast as a Uint32Array.
 */
const viewBuffers: (ArrayBufferLike | null)[] = [null, null, null, null];
const views: DataView[] = [new DataView(new ArrayBuffer(0)), new DataView(new ArrayBuffer(0)), new DataView(new ArrayBuffer(0)), new DataView(new ArrayBuffer(0))];
let nextView = 0;

/** A DataView over all of `b`'s ArrayBuffer; byte i of b is at b.byteOffset + i in it. */
function viewOf(b: Uint8Array): DataView {
  const ab = b.buffer;
  for (let i = 0; i < 4; i++) if (viewBuffers[i] === ab) return views[i]!;
  const v = new DataView(ab);
  const slot = nextView;
  nextView = (nextView + 1) & 3;
  viewBuffers[slot] = ab;
  views[slot] = v;
  return v;
}

// ---- ChaCha20 -------------------------------------------------------------------------------------

/** Key into K (little-endian words). */
function loadKey(key: Uint8Array): void {
  for (let i = 0; i < 8; i++) {
    const j = i * 4;
    K[i] = key[j]! | (key[j + 1]! << 8) | (key[j + 2]! << 16) | (key[j + 3]! << 24);
  }
}

/** The keystream block for `counter` into KS. */
function block(counter: number, n0: number, n1: number, n2: number): void {
  const k0 = K[0]! | 0, k1 = K[1]! | 0, k2 = K[2]! | 0, k3 = K[3]! | 0;
  const k4 = K[4]! | 0, k5 = K[5]! | 0, k6 = K[6]! | 0, k7 = K[7]! | 0;
  let x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574;
  let x4 = k0, x5 = k1, x6 = k2, x7 = k3, x8 = k4, x9 = k5, x10 = k6, x11 = k7;
  let x12 = counter | 0, x13 = n0 | 0, x14 = n1 | 0, x15 = n2 | 0;
  for (let i = 0; i < 10; i++) {
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25);
    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25);
    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25);
    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25);

    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25);
    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25);
    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25);
    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25);
  }
  KS[0] = x0 + 0x61707865; KS[1] = x1 + 0x3320646e; KS[2] = x2 + 0x79622d32; KS[3] = x3 + 0x6b206574;
  KS[4] = x4 + k0; KS[5] = x5 + k1; KS[6] = x6 + k2; KS[7] = x7 + k3;
  KS[8] = x8 + k4; KS[9] = x9 + k5; KS[10] = x10 + k6; KS[11] = x11 + k7;
  KS[12] = x12 + counter; KS[13] = x13 + n0; KS[14] = x14 + n1; KS[15] = x15 + n2;
}

/**
 * dst[dstOff, dstOff + len) = src[srcOff, srcOff + len) XOR keystream from block `counter` on.
 * src and dst must be the same range or not overlap at all.
 */
function xorStream(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number, counter: number, n0: number, n1: number, n2: number): void {
  let done = 0;
  if (len >= 64) {
    const sv = viewOf(src);
    const dv = src.buffer === dst.buffer ? sv : viewOf(dst);
    let s = src.byteOffset + srcOff;
    let d = dst.byteOffset + dstOff;
    for (; done + 64 <= len; done += 64, s += 64, d += 64) {
      block(counter++, n0, n1, n2);
      // Unrolled (measured: 5 % faster than the loop).
      dv.setUint32(d + 0, sv.getUint32(s + 0, true) ^ KS[0]!, true);
      dv.setUint32(d + 4, sv.getUint32(s + 4, true) ^ KS[1]!, true);
      dv.setUint32(d + 8, sv.getUint32(s + 8, true) ^ KS[2]!, true);
      dv.setUint32(d + 12, sv.getUint32(s + 12, true) ^ KS[3]!, true);
      dv.setUint32(d + 16, sv.getUint32(s + 16, true) ^ KS[4]!, true);
      dv.setUint32(d + 20, sv.getUint32(s + 20, true) ^ KS[5]!, true);
      dv.setUint32(d + 24, sv.getUint32(s + 24, true) ^ KS[6]!, true);
      dv.setUint32(d + 28, sv.getUint32(s + 28, true) ^ KS[7]!, true);
      dv.setUint32(d + 32, sv.getUint32(s + 32, true) ^ KS[8]!, true);
      dv.setUint32(d + 36, sv.getUint32(s + 36, true) ^ KS[9]!, true);
      dv.setUint32(d + 40, sv.getUint32(s + 40, true) ^ KS[10]!, true);
      dv.setUint32(d + 44, sv.getUint32(s + 44, true) ^ KS[11]!, true);
      dv.setUint32(d + 48, sv.getUint32(s + 48, true) ^ KS[12]!, true);
      dv.setUint32(d + 52, sv.getUint32(s + 52, true) ^ KS[13]!, true);
      dv.setUint32(d + 56, sv.getUint32(s + 56, true) ^ KS[14]!, true);
      dv.setUint32(d + 60, sv.getUint32(s + 60, true) ^ KS[15]!, true);
    }
  }
  if (done < len) {
    block(counter, n0, n1, n2);
    const s = srcOff + done;
    const d = dstOff + done;
    const n = len - done;
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]! ^ (KS[i >>> 2]! >>> ((i & 3) << 3));
  }
}

// ---- Poly1305 -------------------------------------------------------------------------------------

/** r (clamped) and s from the first 32 bytes of the keystream block in KS; h = 0. */
function polyInit(): void {
  const t0 = KS[0]! & 0x0fffffff;
  const t1 = KS[1]! & 0x0ffffffc;
  const t2 = KS[2]! & 0x0ffffffc;
  const t3 = KS[3]! & 0x0ffffffc;
  R[0] = t0 & M22;
  R[1] = ((t0 >>> 22) | (t1 << 10)) & M22;
  R[2] = ((t1 >>> 12) | (t2 << 20)) & M22;
  R[3] = (t2 >>> 2) & M22;
  R[4] = ((t2 >>> 24) | (t3 << 8)) & M22;
  R[5] = t3 >>> 14;
  S[0] = KS[4]!; S[1] = KS[5]!; S[2] = KS[6]!; S[3] = KS[7]!;
  H.fill(0);
  polySquareR();
}

/** r^2 mod 2^130 - 5 into R2 (fully carried: every limb below 2^22), for two blocks at a time. */
function polySquareR(): void {
  const r0 = R[0]!, r1 = R[1]!, r2 = R[2]!, r3 = R[3]!, r4 = R[4]!, r5 = R[5]!;
  const s1 = r1 * 20, s2 = r2 * 20, s3 = r3 * 20, s4 = r4 * 20, s5 = r5 * 20;
  let d0 = r0 * r0 + r1 * s5 + r2 * s4 + r3 * s3 + r4 * s2 + r5 * s1;
  let d1 = r0 * r1 + r1 * r0 + r2 * s5 + r3 * s4 + r4 * s3 + r5 * s2;
  let d2 = r0 * r2 + r1 * r1 + r2 * r0 + r3 * s5 + r4 * s4 + r5 * s3;
  let d3 = r0 * r3 + r1 * r2 + r2 * r1 + r3 * r0 + r4 * s5 + r5 * s4;
  let d4 = r0 * r4 + r1 * r3 + r2 * r2 + r3 * r1 + r4 * r0 + r5 * s5;
  let d5 = r0 * r5 + r1 * r4 + r2 * r3 + r3 * r2 + r4 * r1 + r5 * r0;
  // A sequential carry (once per key, so no hurry) leaves every limb at most 2^22.
  let c = Math.floor(d0 / TWO22); d0 -= c * TWO22; d1 += c;
  c = Math.floor(d1 / TWO22); d1 -= c * TWO22; d2 += c;
  c = Math.floor(d2 / TWO22); d2 -= c * TWO22; d3 += c;
  c = Math.floor(d3 / TWO22); d3 -= c * TWO22; d4 += c;
  c = Math.floor(d4 / TWO22); d4 -= c * TWO22; d5 += c;
  c = Math.floor(d5 / TWO22); d5 -= c * TWO22; d0 += c * 20;
  c = Math.floor(d0 / TWO22); d0 -= c * TWO22; d1 += c;
  c = Math.floor(d1 / TWO22); d1 -= c * TWO22; d2 += c;
  R2[0] = d0; R2[1] = d1; R2[2] = d2; R2[3] = d3; R2[4] = d4; R2[5] = d5;
}

/**
 * Absorb `count` full 16-byte blocks at byte i of w (little-endian, 2^128 bit set on each):
 * h = (h + m) * r mod 2^130 - 5, partially reduced. Pairs of blocks go in one step,
 * h = (h + m1) * r^2 + m2 * r: the same multiplications, half the carries (measured: Poly1305
 * 17 % faster). Bounds: h + m1 has limbs below 2^23 + 2^14, m2 below 2^22, and 20 * (a limb of r
 * or r^2) at most 2^26.33, so each output limb sums to below 6 * 2^49.33 + 6 * 2^48.33 < 2^52.6:
 * exact in a double.
 */
function polyWords(w: DataView, i: number, count: number): void {
  const r0 = R[0]!, r1 = R[1]!, r2 = R[2]!, r3 = R[3]!, r4 = R[4]!, r5 = R[5]!;
  const s1 = r1 * 20, s2 = r2 * 20, s3 = r3 * 20, s4 = r4 * 20, s5 = r5 * 20;
  const q0 = R2[0]!, q1 = R2[1]!, q2 = R2[2]!, q3 = R2[3]!, q4 = R2[4]!, q5 = R2[5]!;
  const t1 = q1 * 20, t2 = q2 * 20, t3 = q3 * 20, t4 = q4 * 20, t5 = q5 * 20;
  let h0 = H[0]!, h1 = H[1]!, h2 = H[2]!, h3 = H[3]!, h4 = H[4]!, h5 = H[5]!;
  let b = 0;
  for (; b < count; b += 2, i += 32) {
    let m0 = w.getUint32(i, true), m1 = w.getUint32(i + 4, true), m2 = w.getUint32(i + 8, true), m3 = w.getUint32(i + 12, true);
    h0 += m0 & M22;
    h1 += ((m0 >>> 22) | (m1 << 10)) & M22;
    h2 += ((m1 >>> 12) | (m2 << 20)) & M22;
    h3 += (m2 >>> 2) & M22;
    h4 += ((m2 >>> 24) | (m3 << 8)) & M22;
    h5 += (m3 >>> 14) | 0x40000; // bit 128
    let d0: number, d1: number, d2: number, d3: number, d4: number, d5: number;
    if (b + 1 < count) {
      m0 = w.getUint32(i + 16, true); m1 = w.getUint32(i + 20, true); m2 = w.getUint32(i + 24, true); m3 = w.getUint32(i + 28, true);
      const g0 = m0 & M22;
      const g1 = ((m0 >>> 22) | (m1 << 10)) & M22;
      const g2 = ((m1 >>> 12) | (m2 << 20)) & M22;
      const g3 = (m2 >>> 2) & M22;
      const g4 = ((m2 >>> 24) | (m3 << 8)) & M22;
      const g5 = (m3 >>> 14) | 0x40000;
      d0 = h0 * q0 + h1 * t5 + h2 * t4 + h3 * t3 + h4 * t2 + h5 * t1 + g0 * r0 + g1 * s5 + g2 * s4 + g3 * s3 + g4 * s2 + g5 * s1;
      d1 = h0 * q1 + h1 * q0 + h2 * t5 + h3 * t4 + h4 * t3 + h5 * t2 + g0 * r1 + g1 * r0 + g2 * s5 + g3 * s4 + g4 * s3 + g5 * s2;
      d2 = h0 * q2 + h1 * q1 + h2 * q0 + h3 * t5 + h4 * t4 + h5 * t3 + g0 * r2 + g1 * r1 + g2 * r0 + g3 * s5 + g4 * s4 + g5 * s3;
      d3 = h0 * q3 + h1 * q2 + h2 * q1 + h3 * q0 + h4 * t5 + h5 * t4 + g0 * r3 + g1 * r2 + g2 * r1 + g3 * r0 + g4 * s5 + g5 * s4;
      d4 = h0 * q4 + h1 * q3 + h2 * q2 + h3 * q1 + h4 * q0 + h5 * t5 + g0 * r4 + g1 * r3 + g2 * r2 + g3 * r1 + g4 * r0 + g5 * s5;
      d5 = h0 * q5 + h1 * q4 + h2 * q3 + h3 * q2 + h4 * q1 + h5 * q0 + g0 * r5 + g1 * r4 + g2 * r3 + g3 * r2 + g4 * r1 + g5 * r0;
    } else {
      d0 = h0 * r0 + h1 * s5 + h2 * s4 + h3 * s3 + h4 * s2 + h5 * s1;
      d1 = h0 * r1 + h1 * r0 + h2 * s5 + h3 * s4 + h4 * s3 + h5 * s2;
      d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s5 + h4 * s4 + h5 * s3;
      d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s5 + h5 * s4;
      d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0 + h5 * s5;
      d5 = h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1 + h5 * r0;
    }
    // Carry in two parallel rounds (short dependency chains): after the first every limb is below
    // 2^22 + 2^31, after the second below 2^22 + 2^14 (h0: 2^22 + 20 * 2^10).
    let c0 = Math.floor(d0 / TWO22), c1 = Math.floor(d1 / TWO22), c2 = Math.floor(d2 / TWO22);
    let c3 = Math.floor(d3 / TWO22), c4 = Math.floor(d4 / TWO22), c5 = Math.floor(d5 / TWO22);
    d0 = d0 - c0 * TWO22 + c5 * 20; d1 = d1 - c1 * TWO22 + c0; d2 = d2 - c2 * TWO22 + c1;
    d3 = d3 - c3 * TWO22 + c2; d4 = d4 - c4 * TWO22 + c3; d5 = d5 - c5 * TWO22 + c4;
    c0 = Math.floor(d0 / TWO22); c1 = Math.floor(d1 / TWO22); c2 = Math.floor(d2 / TWO22);
    c3 = Math.floor(d3 / TWO22); c4 = Math.floor(d4 / TWO22); c5 = Math.floor(d5 / TWO22);
    h0 = d0 - c0 * TWO22 + c5 * 20; h1 = d1 - c1 * TWO22 + c0; h2 = d2 - c2 * TWO22 + c1;
    h3 = d3 - c3 * TWO22 + c2; h4 = d4 - c4 * TWO22 + c3; h5 = d5 - c5 * TWO22 + c4;
  }
  H[0] = h0; H[1] = h1; H[2] = h2; H[3] = h3; H[4] = h4; H[5] = h5;
}

/** Absorb b[off, off + len) zero-padded to a multiple of 16 bytes. */
function polyBytes(b: Uint8Array, off: number, len: number): void {
  let done = 0;
  // A DataView for runs of 64 bytes or more (data messages); short inputs (handshake AAD and
  // payloads, many distinct small arrays) go through PAD so they create no view.
  if (len >= 64) {
    const full = len >>> 4;
    polyWords(viewOf(b), b.byteOffset + off, full);
    done = full << 4;
  }
  for (; done < len; done += 16) {
    const at = off + done;
    const n = len - done < 16 ? len - done : 16;
    for (let i = 0; i < n; i++) PAD8[i] = b[at + i]!;
    for (let i = n; i < 16; i++) PAD8[i] = 0;
    polyWords(PADV, 0, 1);
  }
}

/** Absorb the lengths block (aadLen, ctLen as LE64) and write the tag as words into TAG. */
function polyFinish(aadLen: number, ctLen: number): void {
  PADV.setUint32(0, aadLen, true); PADV.setUint32(4, 0, true); // both lengths < 2^32
  PADV.setUint32(8, ctLen, true); PADV.setUint32(12, 0, true);
  polyWords(PADV, 0, 1);
  let h0 = H[0]!, h1 = H[1]!, h2 = H[2]!, h3 = H[3]!, h4 = H[4]!, h5 = H[5]!;
  // Full carry, then fold everything at and above 2^130 back in (times 5), twice.
  for (let pass = 0; pass < 2; pass++) {
    let c = Math.floor(h0 / TWO22); h0 -= c * TWO22; h1 += c;
    c = Math.floor(h1 / TWO22); h1 -= c * TWO22; h2 += c;
    c = Math.floor(h2 / TWO22); h2 -= c * TWO22; h3 += c;
    c = Math.floor(h3 / TWO22); h3 -= c * TWO22; h4 += c;
    c = Math.floor(h4 / TWO22); h4 -= c * TWO22; h5 += c;
    c = Math.floor(h5 / 1048576); h5 -= c * 1048576; h0 += c * 5;
  }
  // Now h < 2^130 + 5 * small, limbs normalised except a tiny h0 excess: carry h0 once more.
  let a0 = h0 | 0, a1 = h1 | 0, a2 = h2 | 0, a3 = h3 | 0, a4 = h4 | 0, a5 = h5 | 0;
  let c = a0 >>> 22; a0 &= M22; a1 += c;
  c = a1 >>> 22; a1 &= M22; a2 += c;
  c = a2 >>> 22; a2 &= M22; a3 += c;
  c = a3 >>> 22; a3 &= M22; a4 += c;
  c = a4 >>> 22; a4 &= M22; a5 += c;
  // g = h + 5 - 2^130; use g when it does not go negative (h >= p), in constant time.
  let g0 = a0 + 5; c = g0 >>> 22; g0 &= M22;
  let g1 = a1 + c; c = g1 >>> 22; g1 &= M22;
  let g2 = a2 + c; c = g2 >>> 22; g2 &= M22;
  let g3 = a3 + c; c = g3 >>> 22; g3 &= M22;
  let g4 = a4 + c; c = g4 >>> 22; g4 &= M22;
  const g5 = a5 + c - 0x100000;
  const useG = ~(g5 >> 31); // all ones when g5 >= 0
  a0 = (a0 & ~useG) | (g0 & useG);
  a1 = (a1 & ~useG) | (g1 & useG);
  a2 = (a2 & ~useG) | (g2 & useG);
  a3 = (a3 & ~useG) | (g3 & useG);
  a4 = (a4 & ~useG) | (g4 & useG);
  a5 = (a5 & ~useG) | (g5 & useG);
  // h mod 2^128 as four words, plus s.
  const w0 = (a0 | (a1 << 22)) >>> 0;
  const w1 = ((a1 >>> 10) | (a2 << 12)) >>> 0;
  const w2 = ((a2 >>> 20) | (a3 << 2) | (a4 << 24)) >>> 0;
  const w3 = ((a4 >>> 8) | (a5 << 14)) >>> 0;
  let t = w0 + S[0]!; TAG[0] = t; let carry = t > 0xffffffff ? 1 : 0;
  t = w1 + S[1]! + carry; TAG[1] = t; carry = t > 0xffffffff ? 1 : 0;
  t = w2 + S[2]! + carry; TAG[2] = t; carry = t > 0xffffffff ? 1 : 0;
  TAG[3] = w3 + S[3]! + carry;
}

/** Zero every secret the last call left in module scratch (plain loops: cheaper than 7 fill calls). */
function wipe(): void {
  for (let i = 0; i < 16; i++) KS[i] = 0;
  for (let i = 0; i < 8; i++) K[i] = 0;
  for (let i = 0; i < 6; i++) {
    H[i] = 0;
    R[i] = 0;
    R2[i] = 0;
  }
  for (let i = 0; i < 4; i++) {
    S[i] = 0;
    PADV.setUint32(i * 4, 0);
  }
}

/** Poly1305 over aad and the ciphertext with the one-time key from block 0; tag into TAG. */
function authenticate(aad: Uint8Array | null, ct: Uint8Array, ctOff: number, len: number, n0: number, n1: number, n2: number): void {
  block(0, n0, n1, n2);
  polyInit();
  const aadLen = aad === null ? 0 : aad.length;
  if (aadLen > 0) polyBytes(aad!, 0, aadLen);
  polyBytes(ct, ctOff, len);
  polyFinish(aadLen, len);
}

// ---- AEAD ---------------------------------------------------------------------------------------

/**
 * Seal src[srcOff, srcOff + len) under `key` and the nonce words (n0, n1, n2) = the 12-byte
 * nonce read as three little-endian words (WireGuard data: 0, counter low, counter high),
 * writing ciphertext || tag at dst[dstOff, dstOff + len + 16). The caller guarantees that the
 * ranges are in bounds, that key is 32 bytes, and that the two ranges are the same memory or
 * disjoint.
 */
function sealRaw(
  key: Uint8Array, n0: number, n1: number, n2: number, aad: Uint8Array | null,
  src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number,
): void {
  loadKey(key);
  xorStream(src, srcOff, dst, dstOff, len, 1, n0, n1, n2);
  authenticate(aad, dst, dstOff, len, n0, n1, n2);
  for (let i = 0; i < 16; i++) dst[dstOff + len + i] = tagByte(i);
  TAG.fill(0);
  wipe();
}

/**
 * Authenticate src[srcOff, srcOff + len + 16) (ciphertext || tag); when the tag is right, decrypt
 * to dst[dstOff, dstOff + len) (moving the ciphertext there first when the ranges overlap
 * without being the same) and return true; otherwise return false with nothing written.
 */
function openRaw(
  key: Uint8Array, n0: number, n1: number, n2: number, aad: Uint8Array | null,
  src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number, overlap: number,
): boolean {
  loadKey(key);
  authenticate(aad, src, srcOff, len, n0, n1, n2);
  let diff = 0;
  const t = srcOff + len;
  for (let i = 0; i < 16; i++) diff |= tagByte(i) ^ src[t + i]!;
  TAG.fill(0);
  if (diff !== 0) {
    wipe();
    return false;
  }
  if (overlap === OVERLAP_PARTIAL) {
    if (src === dst) dst.copyWithin(dstOff, srcOff, srcOff + len);
    else dst.set(src.subarray(srcOff, srcOff + len), dstOff); // set() copies overlapping memory correctly
    xorStream(dst, dstOff, dst, dstOff, len, 1, n0, n1, n2);
  } else {
    xorStream(src, srcOff, dst, dstOff, len, 1, n0, n1, n2);
  }
  wipe();
  return true;
}

const OVERLAP_NONE = 0;
const OVERLAP_SAME = 1;
const OVERLAP_PARTIAL = 2;

/** How a[aOff, aOff + aLen) and b[bOff, bOff + bLen) share memory. */
function overlapOf(a: Uint8Array, aOff: number, aLen: number, b: Uint8Array, bOff: number, bLen: number): number {
  let x: number;
  let y: number;
  if (a === b) {
    x = aOff;
    y = bOff;
  } else {
    if (a.buffer !== b.buffer) return OVERLAP_NONE;
    x = a.byteOffset + aOff;
    y = b.byteOffset + bOff;
  }
  if (x === y) return OVERLAP_SAME;
  return x < y + bLen && y < x + aLen ? OVERLAP_PARTIAL : OVERLAP_NONE;
}

const isU32 = (v: number): boolean => v >= 0 && v <= 0xffffffff && Math.floor(v) === v;

function dataArgsOk(key: Uint8Array, lo: number, hi: number, buf: Uint8Array, srcOff: number, len: number, dstOff: number): boolean {
  return key instanceof Uint8Array && key.length === 32 && buf instanceof Uint8Array &&
    isU32(lo) && isU32(hi) && isU32(srcOff) && isU32(len) && isU32(dstOff) && srcOff + len <= buf.length;
}

/**
 * WireGuard data-message seal in place (CryptoBackend.dataSeal): nonce = 4 zero bytes ||
 * LE64(hi:lo), no AAD; buf[srcOff, srcOff + len) to ciphertext || tag at buf[dstOff..]; the ranges
 * may overlap in any way. Returns len + 16, or -1 on bad arguments (nothing written).
 */
export function dataSeal(key: Uint8Array, lo: number, hi: number, buf: Uint8Array, srcOff: number, len: number, dstOff: number): number {
  if (!dataArgsOk(key, lo, hi, buf, srcOff, len, dstOff) || dstOff + len + 16 > buf.length) return -1;
  if (srcOff !== dstOff && srcOff < dstOff + len + 16 && dstOff < srcOff + len) {
    buf.copyWithin(dstOff, srcOff, srcOff + len);
    srcOff = dstOff;
  }
  sealRaw(key, 0, lo, hi, null, buf, srcOff, len, buf, dstOff);
  return len + 16;
}

/**
 * WireGuard data-message open (CryptoBackend.dataOpen): buf[srcOff, srcOff + len) is
 * ciphertext || tag; the plaintext (len - 16 bytes) goes to buf[dstOff..]. Returns its length,
 * or -1 on a forgery or bad arguments, with nothing written.
 */
export function dataOpen(key: Uint8Array, lo: number, hi: number, buf: Uint8Array, srcOff: number, len: number, dstOff: number): number {
  if (!dataArgsOk(key, lo, hi, buf, srcOff, len, dstOff) || len < 16) return -1;
  const n = len - 16;
  if (dstOff + n > buf.length) return -1;
  const overlap = srcOff === dstOff ? OVERLAP_SAME : srcOff < dstOff + n && dstOff < srcOff + n ? OVERLAP_PARTIAL : OVERLAP_NONE;
  return openRaw(key, 0, lo, hi, null, buf, srcOff, n, buf, dstOff, overlap) ? n : -1;
}

function requireSizes(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== 32) throw new RangeError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
  if (nonce.length !== 12) throw new RangeError(`ChaCha20-Poly1305 nonce must be 12 bytes, got ${nonce.length}`);
}

const le32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

/** CryptoBackend.aeadSeal: ciphertext || tag of src at dst[dstOffset..]; src may alias dst. */
export function aeadSeal(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  requireSizes(key, nonce);
  const len = src.length;
  if (dstOffset < 0 || dstOffset + len + 16 > dst.length) throw new RangeError('ChaCha20-Poly1305 output does not fit');
  let from = src;
  let fromOff = 0;
  if (overlapOf(src, 0, len, dst, dstOffset, len + 16) === OVERLAP_PARTIAL) {
    dst.set(src, dstOffset);
    from = dst;
    fromOff = dstOffset;
  }
  sealRaw(key, le32(nonce, 0), le32(nonce, 4), le32(nonce, 8), aad, from, fromOff, len, dst, dstOffset);
  return len + 16;
}

/** CryptoBackend.aeadOpen: plaintext of src (ciphertext || tag) at dst[dstOffset..], or -1. */
export function aeadOpen(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number {
  requireSizes(key, nonce);
  const n = src.length - 16;
  if (n < 0) return -1;
  if (dstOffset < 0 || dstOffset + n > dst.length) throw new RangeError('ChaCha20-Poly1305 output does not fit');
  const overlap = overlapOf(src, 0, n, dst, dstOffset, n);
  return openRaw(key, le32(nonce, 0), le32(nonce, 4), le32(nonce, 8), aad, src, 0, n, dst, dstOffset, overlap) ? n : -1;
}
