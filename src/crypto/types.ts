// The crypto backend interface: every primitive WireGuard needs, behind one small surface so the
// protocol layer never knows whether OpenSSL (native: the addon, node:crypto as fallback) or
// TypeScript (pure: the project's own ChaCha20-Poly1305 and BLAKE2s, tweetnacl X25519) does the work.
// All byte strings are Uint8Array (Buffer is a Uint8Array too). Functions never throw on bad
// *data* (authentication failure, low-order points): they report it through the return value.

export type BackendName = 'native' | 'pure';

export interface CryptoBackend {
  readonly name: BackendName;

  /**
   * ChaCha20-Poly1305 (RFC 8439) seal. `nonce` is 12 bytes (WireGuard: 4 zero bytes || LE64 counter).
   * Writes ciphertext || 16-byte tag (src.length + 16 bytes) into `dst` starting at `dstOffset`
   * and returns the number of bytes written. `src` may alias `dst` exactly (in place).
   */
  aeadSeal(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number;

  /**
   * ChaCha20-Poly1305 open of `src` = ciphertext || tag. Writes the plaintext (src.length - 16 bytes)
   * into `dst` at `dstOffset` and returns its length, or -1 when authentication fails or src is
   * shorter than a tag. `src` may alias `dst` exactly.
   * The tag is verified before anything is written: on -1, `dst` is left unchanged (so an in-place
   * open of a forged packet leaves its ciphertext intact).
   */
  aeadOpen(key: Uint8Array, nonce: Uint8Array, src: Uint8Array, aad: Uint8Array | null, dst: Uint8Array, dstOffset: number): number;

  /**
   * Optional in-place fast path for WireGuard data messages (present on the pure backend, and on
   * the native backend when its addon passed its self-test; see WGTS_AEAD in src/crypto/native.ts): ChaCha20-Poly1305 with
   * nonce = 4 zero bytes || LE64 (counterHi << 32 | counterLo) and no AAD. Seals
   * buf[srcOff, srcOff + len) and writes ciphertext || 16-byte tag at buf[dstOff..]; returns
   * len + 16. The two ranges may overlap in any way (identical = in place). Returns -1 on bad
   * arguments — key not a 32-byte Uint8Array, buf not a Uint8Array, counters / offsets / len not
   * integers in [0, 2^32), or a range outside buf — and never reads or writes outside buf.
   * Allocates nothing and creates no object per call.
   */
  dataSeal?(key: Uint8Array, counterLo: number, counterHi: number, buf: Uint8Array, srcOff: number, len: number, dstOff: number): number;

  /**
   * Optional in-place open matching dataSeal: buf[srcOff, srcOff + len) is ciphertext || tag
   * (len includes the tag). Writes the plaintext (len - 16 bytes) at buf[dstOff..] and returns its
   * length, or -1 when authentication fails, len < 16 or the arguments are bad (as for dataSeal).
   * On -1 nothing in buf has been written. The ranges may overlap in any way.
   */
  dataOpen?(key: Uint8Array, counterLo: number, counterHi: number, buf: Uint8Array, srcOff: number, len: number, dstOff: number): number;

  /**
   * Optional: erase whatever copies of session keys (and plaintext) the backend keeps between
   * calls (the addon's cipher contexts). The engine calls it whenever it erases a keypair.
   */
  forgetKeys?(): void;

  /**
   * Optional batch form of dataSeal for a train of messages under one key (present with
   * dataSeal): for start <= k < start + count seals buf[offsets[k], offsets[k] + lengths[k]) in
   * place with counter (counterHi << 32 | counterLo) + (k - start), the 16-byte tag written right
   * behind it. Returns count, or -1 on bad arguments (as dataSeal's, for any k), in which case
   * nothing was sealed. One call instead of `count`; allocates nothing.
   */
  dataSealBatch?(key: Uint8Array, counterLo: number, counterHi: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, start: number, count: number): number;

  /**
   * Optional batch form of dataOpen (present with dataOpen): for start <= k < start + count opens
   * buf[offsets[k], offsets[k] + lengths[k]) (ciphertext || tag) in place with counter
   * counters[2k] | counters[2k + 1] << 32 and sets results[k] to the plaintext length, or -1 when
   * it does not authenticate (that message's bytes are then undefined: drop it). Returns how many
   * opened, or -1 on bad arguments (nothing opened).
   */
  dataOpenBatch?(key: Uint8Array, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, counters: Uint32Array, start: number, count: number, results: Int32Array): number;

  /** XChaCha20-Poly1305 seal (24-byte nonce), returns ciphertext || tag. Used for cookie replies. */
  xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | null): Uint8Array;

  /** XChaCha20-Poly1305 open, returns plaintext or null on authentication failure. */
  xaeadOpen(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array | null): Uint8Array | null;

  /** X25519(privateKey, publicKey). Returns null when the shared secret is all zero (low-order point). */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;

  /** X25519(privateKey, 9): the public key of a private key. */
  x25519Public(privateKey: Uint8Array): Uint8Array;

  /** BLAKE2s-256 of the concatenation of parts. */
  hash(...parts: Uint8Array[]): Uint8Array;

  /** HMAC-BLAKE2s-256 (block size 64) over the concatenation of parts. */
  hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;

  /** Keyed BLAKE2s with 16-byte output (WireGuard's MAC: mac1, mac2, cookie). key is 16 or 32 bytes. */
  mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array;

  /** Cryptographically secure random bytes. */
  randomBytes(n: number): Uint8Array;

  // ---- the handshake's primitives on caller-owned buffers: nothing allocated, no copies left ----
  // Sizes are caller bugs, not data: a wrong size throws RangeError.

  /** BLAKE2s-256(a || b) into out[0, 32). out may be a or b: the inputs are absorbed first. */
  hashInto(out: Uint8Array, a: Uint8Array, b?: Uint8Array): void;

  /**
   * WireGuard's KDF (HKDF over HMAC-BLAKE2s, whitepaper section 5.4): T1 of `input` under the
   * chaining key `ck` (the HMAC key: at most 64 bytes, WireGuard's are 32) into t1, T2 into t2 and T3 into t3 when given (32 bytes each). The
   * outputs may alias ck or input.
   */
  kdfInto(ck: Uint8Array, input: Uint8Array, t1: Uint8Array, t2?: Uint8Array, t3?: Uint8Array): void;

  /** Keyed BLAKE2s-128 (WireGuard's MAC) of buf[off, off + len) under key into out[outOff, outOff + 16). */
  macInto(key: Uint8Array, buf: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void;

  /** X25519(privateKey, publicKey) into out (32 bytes). False, with out zeroed, for an all-zero result. */
  x25519Into(out: Uint8Array, privateKey: Uint8Array, publicKey: Uint8Array): boolean;

  /** The public key of privateKey into out (32 bytes). */
  x25519PublicInto(out: Uint8Array, privateKey: Uint8Array): void;

  /** Fill buf with cryptographically secure random bytes, in place (no other copy is made). */
  randomFill(buf: Uint8Array): void;
}
