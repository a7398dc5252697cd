// WireGuard key handling: generation (clamped like `wg genkey`), public-key derivation, and the two
// text encodings: base64 (wg-quick files, CLI; strict like wireguard-tools' key_from_base64) and
// hex (the UAPI protocol; lowercase on output).

import { secretBytes } from './bytes.js';
import { getCrypto } from './index.js';
import type { CryptoBackend } from './types.js';

/** Length of every WireGuard key (private, public, preshared) in bytes. */
export const KEY_LEN = 32;
/** Length of a base64-encoded key: 43 characters + one '=' pad. */
export const KEY_BASE64_LEN = 44;
/** Length of a hex-encoded key. */
export const KEY_HEX_LEN = 64;

/** Clamp a 32-byte X25519 private key in place (RFC 7748 decodeScalar25519) and return it. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  key[0]! &= 248;
  key[31]! = (key[31]! & 127) | 64;
  return key;
}

/** A fresh random private key, clamped exactly as `wg genkey` does. */
export function generatePrivateKey(backend: CryptoBackend = getCrypto()): Uint8Array {
  const key = secretBytes(KEY_LEN);
  backend.randomFill(key);
  return clampPrivateKey(key);
}

/** 32 fresh random bytes for a preshared key (`wg genpsk`; not clamped). */
export function generatePresharedKey(backend: CryptoBackend = getCrypto()): Uint8Array {
  const key = secretBytes(KEY_LEN);
  backend.randomFill(key);
  return key;
}

/** The X25519 public key of a private key (the private key is clamped internally, not modified). */
export function publicKey(privateKey: Uint8Array, backend: CryptoBackend = getCrypto()): Uint8Array {
  return backend.x25519Public(privateKey);
}

function requireKey(key: Uint8Array): void {
  if (key.length !== KEY_LEN) throw new RangeError(`a key must be ${KEY_LEN} bytes, got ${key.length}`);
}

/** Standard base64 (with '=' padding, 44 characters) of a 32-byte key. */
export function keyToBase64(key: Uint8Array): string {
  requireKey(key);
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64');
}

/** Value of a standard base64 character code, or -1. */
function base64Value(c: number): number {
  if (c >= 65 && c <= 90) return c - 65; // A-Z
  if (c >= 97 && c <= 122) return c - 71; // a-z
  if (c >= 48 && c <= 57) return c + 4; // 0-9
  if (c === 43) return 62; // +
  if (c === 47) return 63; // /
  return -1;
}

/** Value of a hex digit character code (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Decode a base64 key, accepting exactly what wireguard-tools accepts: 44 characters of the
 * standard alphabet, canonical (the 43rd character carries only 4 key bits: its two low bits are
 * zero), ending in '=' (no whitespace, no URL-safe alphabet). Returns null for anything else.
 * The bytes are decoded straight from the text into a buffer of their own (no Buffer pool, no
 * intermediate copy); the caller zeroes it when the key is replaced. No regular expression
 * touches the text either: V8 keeps the last string a RegExp ran on reachable (RegExp.input).
 */
export function keyFromBase64(text: string): Uint8Array | null {
  if (text.length !== KEY_BASE64_LEN || text.charCodeAt(KEY_BASE64_LEN - 1) !== 61 /* = */) return null;
  let bad = (base64Value(text.charCodeAt(KEY_BASE64_LEN - 2)) & 3) !== 0;
  for (let i = 0; i < KEY_BASE64_LEN - 1; i++) if (base64Value(text.charCodeAt(i)) < 0) bad = true;
  if (bad) return null;
  const key = secretBytes(KEY_LEN);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < KEY_BASE64_LEN - 1; i++) {
    acc = ((acc << 6) | base64Value(text.charCodeAt(i))) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      key[o++] = (acc >>> bits) & 0xff;
    }
  }
  acc = 0;
  return key;
}

/** Lowercase hex (64 characters) of a 32-byte key, as the UAPI protocol writes keys. */
export function keyToHex(key: Uint8Array): string {
  requireKey(key);
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex');
}

/**
 * Decode a 64-character hex key (either case, like wireguard-go's UAPI); null for anything else.
 * Decoded straight into a buffer of its own, without a regular expression, as keyFromBase64.
 */
export function keyFromHex(text: string): Uint8Array | null {
  if (text.length !== KEY_HEX_LEN) return null;
  for (let i = 0; i < KEY_HEX_LEN; i++) if (hexValue(text.charCodeAt(i)) < 0) return null;
  const key = secretBytes(KEY_LEN);
  for (let i = 0; i < KEY_LEN; i++) key[i] = (hexValue(text.charCodeAt(2 * i)) << 4) | hexValue(text.charCodeAt(2 * i + 1));
  return key;
}
