// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard instantiates it (whitepaper §5.4.2-5.4.3).
// Two layers: a generic Noise core (prologue and payloads are parameters, so the cacophony test
// vector drives the same code) and WireGuard's message builders/parsers on top of it (prologue =
// IDENTIFIER, initiation payload = TAI64N timestamp, empty response payload, sender/receiver
// indices). All functions are pure: keys, ephemerals, indices and timestamps come in as arguments.
// Every step can be reported to an optional trace callback numbered like the whitepaper's steps.

import { kdf } from '../crypto/kdf.js';
import type { CryptoBackend } from '../crypto/types.js';
import { DROP_HANDSHAKE_INVALID, DROP_UNKNOWN_PEER_KEY } from './codes.js';
import { AEAD_TAG_SIZE, CONSTRUCTION, IDENTIFIER, KEY_SIZE, TAI64N_SIZE } from './constants.js';
import { encodeInitiation, encodeResponse, initiationFields, responseFields } from './messages.js';

/** Receives each intermediate value: step number (1-19), name ('C', 'H', 'k', 'dh', 'tau', 'ciphertext'). */
export type HandshakeTrace = (step: number, name: string, value: Uint8Array) => void;

/** A static X25519 key pair. */
export interface StaticKeys {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Chaining key and handshake hash after a message. */
export interface NoiseState {
  readonly ck: Uint8Array;
  readonly h: Uint8Array;
}

const ZERO_NONCE = new Uint8Array(12);
const EMPTY = new Uint8Array(0);

function seal(crypto: CryptoBackend, key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_SIZE);
  crypto.aeadSeal(key, ZERO_NONCE, plaintext, aad, out, 0);
  return out;
}

function open(crypto: CryptoBackend, key: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (ciphertext.length < AEAD_TAG_SIZE) return null;
  const out = new Uint8Array(ciphertext.length - AEAD_TAG_SIZE);
  return crypto.aeadOpen(key, ZERO_NONCE, ciphertext, aad, out, 0) < 0 ? null : out;
}

/** Steps 1-3: C = HASH(CONSTRUCTION), H = HASH(C || prologue), H = HASH(H || responder static). */
function initialState(crypto: CryptoBackend, prologue: Uint8Array, responderStatic: Uint8Array, trace?: HandshakeTrace): NoiseState {
  const ck = crypto.hash(CONSTRUCTION);
  trace?.(1, 'C', ck);
  let h = crypto.hash(ck, prologue);
  trace?.(2, 'H', h);
  h = crypto.hash(h, responderStatic);
  trace?.(3, 'H', h);
  return { ck, h };
}

/** Result of writing the first handshake message. */
export interface Message1 extends NoiseState {
  readonly ephemeralPublic: Uint8Array;
  readonly encryptedStatic: Uint8Array;
  readonly encryptedPayload: Uint8Array;
}

/** Steps 4-5 / 12-13: C = KDF1(C, e); H = HASH(H || e) for an ephemeral public key e. */
function mixEphemeral(crypto: CryptoBackend, ck: Uint8Array, h: Uint8Array, e: Uint8Array, step: number, trace?: HandshakeTrace): NoiseState {
  const [next] = kdf(crypto, 1, ck, e) as [Uint8Array];
  trace?.(step, 'C', next);
  const hash = crypto.hash(h, e);
  trace?.(step + 1, 'H', hash);
  return { ck: next, h: hash };
}

/**
 * A DH mixed into the chaining key: dh = DH(priv, pub) (null when all zero), then KDF1 (C) or
 * KDF2 (C, k) of it (k is empty for KDF1); the DH result is wiped. `dh` given = a precomputed
 * static-static DH, kept.
 */
function mixDh(
  crypto: CryptoBackend, n: 1 | 2, ck: Uint8Array, priv: Uint8Array, pub: Uint8Array, step: number,
  trace?: HandshakeTrace, dh?: Uint8Array,
): { ck: Uint8Array; k: Uint8Array } | null {
  const shared = dh ?? crypto.x25519(priv, pub);
  if (shared === null) return null;
  trace?.(step, 'dh', shared);
  const [next, k] = kdf(crypto, n, ck, shared) as [Uint8Array, Uint8Array | undefined];
  if (dh === undefined) shared.fill(0);
  trace?.(step, 'C', next);
  if (k !== undefined) trace?.(step, 'k', k);
  return { ck: next, k: k ?? EMPTY };
}

/**
 * Initiator, message 1 (-> e, es, s, ss). `ss` may be the precomputed DH(s, rs) (null: computed
 * here). Returns null when a DH result is all zero.
 */
export function writeMessage1(
  crypto: CryptoBackend, prologue: Uint8Array, s: StaticKeys, rs: Uint8Array, ss: Uint8Array | null,
  ephemeralPrivate: Uint8Array, payload: Uint8Array, trace?: HandshakeTrace,
): Message1 | null {
  let { ck, h } = initialState(crypto, prologue, rs, trace);
  const ephemeralPublic = crypto.x25519Public(ephemeralPrivate);
  ({ ck, h } = mixEphemeral(crypto, ck, h, ephemeralPublic, 4, trace));
  const es = mixDh(crypto, 2, ck, ephemeralPrivate, rs, 6, trace);
  if (es === null) return null;
  const encryptedStatic = seal(crypto, es.k, s.publicKey, h);
  trace?.(7, 'ciphertext', encryptedStatic);
  h = crypto.hash(h, encryptedStatic);
  trace?.(8, 'H', h);
  const st = mixDh(crypto, 2, es.ck, s.privateKey, rs, 9, trace, ss ?? undefined);
  if (st === null) return null;
  ck = st.ck;
  const k = st.k;
  const encryptedPayload = seal(crypto, k, payload, h);
  k.fill(0);
  trace?.(10, 'ciphertext', encryptedPayload);
  h = crypto.hash(h, encryptedPayload);
  trace?.(11, 'H', h);
  return { ck, h, ephemeralPublic, encryptedStatic, encryptedPayload };
}

/** Result of reading the first handshake message. */
export interface ReadMessage1 extends NoiseState {
  readonly remoteStatic: Uint8Array;
  readonly remoteEphemeral: Uint8Array;
  readonly payload: Uint8Array;
}

/**
 * Responder, message 1. `ssFor(remoteStatic)` returns the precomputed DH(s, rs) for a known peer,
 * or null for an unknown one (DROP_UNKNOWN_PEER_KEY, no DH spent). Returns the state or a drop
 * code (DROP_HANDSHAKE_INVALID for an AEAD failure or an all-zero DH).
 */
export function readMessage1(
  crypto: CryptoBackend, prologue: Uint8Array, s: StaticKeys, ephemeral: Uint8Array,
  encryptedStatic: Uint8Array, encryptedPayload: Uint8Array,
  ssFor: (remoteStatic: Uint8Array) => Uint8Array | null, trace?: HandshakeTrace,
): ReadMessage1 | number {
  let { ck, h } = initialState(crypto, prologue, s.publicKey, trace);
  const remoteEphemeral = ephemeral.slice();
  ({ ck, h } = mixEphemeral(crypto, ck, h, remoteEphemeral, 4, trace));
  const es = mixDh(crypto, 2, ck, s.privateKey, remoteEphemeral, 6, trace);
  if (es === null) return DROP_HANDSHAKE_INVALID;
  const remoteStatic = open(crypto, es.k, encryptedStatic, h);
  if (remoteStatic === null || remoteStatic.length !== KEY_SIZE) return DROP_HANDSHAKE_INVALID;
  trace?.(7, 'ciphertext', encryptedStatic);
  h = crypto.hash(h, encryptedStatic);
  trace?.(8, 'H', h);
  const ss = ssFor(remoteStatic);
  if (ss === null) return DROP_UNKNOWN_PEER_KEY;
  const st = mixDh(crypto, 2, es.ck, s.privateKey, remoteStatic, 9, trace, ss) as { ck: Uint8Array; k: Uint8Array };
  ck = st.ck;
  const k = st.k;
  const payload = open(crypto, k, encryptedPayload, h);
  k.fill(0);
  if (payload === null) return DROP_HANDSHAKE_INVALID;
  trace?.(10, 'ciphertext', encryptedPayload);
  h = crypto.hash(h, encryptedPayload);
  trace?.(11, 'H', h);
  return { ck, h, remoteStatic, remoteEphemeral, payload };
}

/** Result of writing the second handshake message. */
export interface Message2 extends NoiseState {
  readonly ephemeralPublic: Uint8Array;
  readonly encryptedPayload: Uint8Array;
}

/** Steps 16-19: (C, tau, k) = KDF3(C, psk); H = HASH(H || tau); payload AEAD; H = HASH(H || ct). */
function pskAndPayload(
  crypto: CryptoBackend, ck: Uint8Array, h: Uint8Array, psk: Uint8Array, trace?: HandshakeTrace,
): { ck: Uint8Array; h: Uint8Array; k: Uint8Array } {
  const [ck2, tau, k] = kdf(crypto, 3, ck, psk) as [Uint8Array, Uint8Array, Uint8Array];
  trace?.(16, 'C', ck2);
  trace?.(16, 'tau', tau);
  trace?.(16, 'k', k);
  const h2 = crypto.hash(h, tau);
  tau.fill(0);
  trace?.(17, 'H', h2);
  return { ck: ck2, h: h2, k };
}

/**
 * Responder, message 2 (<- e, ee, se, psk) after readMessage1. `psk` is 32 bytes (zeros when none).
 * Returns null when a DH result is all zero.
 */
export function writeMessage2(
  crypto: CryptoBackend, state: NoiseState, remoteEphemeral: Uint8Array, remoteStatic: Uint8Array,
  psk: Uint8Array, ephemeralPrivate: Uint8Array, payload: Uint8Array, trace?: HandshakeTrace,
): Message2 | null {
  const ephemeralPublic = crypto.x25519Public(ephemeralPrivate);
  const { ck: ck0, h } = mixEphemeral(crypto, state.ck, state.h, ephemeralPublic, 12, trace);
  const ee = mixDh(crypto, 1, ck0, ephemeralPrivate, remoteEphemeral, 14, trace);
  if (ee === null) return null;
  const se = mixDh(crypto, 1, ee.ck, ephemeralPrivate, remoteStatic, 15, trace);
  if (se === null) return null;
  const ck = se.ck;
  const p = pskAndPayload(crypto, ck, h, psk, trace);
  const encryptedPayload = seal(crypto, p.k, payload, p.h);
  p.k.fill(0);
  trace?.(18, 'ciphertext', encryptedPayload);
  const hash = crypto.hash(p.h, encryptedPayload);
  trace?.(19, 'H', hash);
  return { ck: p.ck, h: hash, ephemeralPublic, encryptedPayload };
}

/** Result of reading the second handshake message. */
export interface ReadMessage2 extends NoiseState {
  readonly payload: Uint8Array;
}

/** Initiator, message 2, after writeMessage1. Returns the state or DROP_HANDSHAKE_INVALID. */
export function readMessage2(
  crypto: CryptoBackend, state: NoiseState, s: StaticKeys, ephemeralPrivate: Uint8Array, psk: Uint8Array,
  ephemeral: Uint8Array, encryptedPayload: Uint8Array, trace?: HandshakeTrace,
): ReadMessage2 | number {
  const { ck: ck0, h } = mixEphemeral(crypto, state.ck, state.h, ephemeral, 12, trace);
  const ee = mixDh(crypto, 1, ck0, ephemeralPrivate, ephemeral, 14, trace);
  if (ee === null) return DROP_HANDSHAKE_INVALID;
  const se = mixDh(crypto, 1, ee.ck, s.privateKey, ephemeral, 15, trace);
  if (se === null) return DROP_HANDSHAKE_INVALID;
  const ck = se.ck;
  const p = pskAndPayload(crypto, ck, h, psk, trace);
  const payload = open(crypto, p.k, encryptedPayload, p.h);
  p.k.fill(0);
  if (payload === null) return DROP_HANDSHAKE_INVALID;
  trace?.(18, 'ciphertext', encryptedPayload);
  const hash = crypto.hash(p.h, encryptedPayload);
  trace?.(19, 'H', hash);
  return { ck: p.ck, h: hash, payload };
}

/** Transport keys (T1, T2) = KDF2(C, empty): the initiator sends with T1, the responder with T2. */
export function transportKeys(crypto: CryptoBackend, ck: Uint8Array): [Uint8Array, Uint8Array] {
  return kdf(crypto, 2, ck, EMPTY) as [Uint8Array, Uint8Array];
}

// ---- WireGuard messages ---------------------------------------------------------------------

/** A built handshake message (macs still zero) with the Noise state after it. */
export interface BuiltMessage extends NoiseState {
  readonly message: Uint8Array;
}

/**
 * A WireGuard initiation (148 bytes, mac1/mac2 zero) from our identity to `remoteStatic`.
 * Returns null when a DH result is all zero (e.g. a low-order peer key).
 */
export function createInitiation(
  crypto: CryptoBackend, identity: StaticKeys, remoteStatic: Uint8Array, ss: Uint8Array | null,
  ephemeralPrivate: Uint8Array, sender: number, timestamp: Uint8Array, trace?: HandshakeTrace,
): BuiltMessage | null {
  const m = writeMessage1(crypto, IDENTIFIER, identity, remoteStatic, ss, ephemeralPrivate, timestamp, trace);
  if (m === null) return null;
  return { ck: m.ck, h: m.h, message: encodeInitiation(sender, m.ephemeralPublic, m.encryptedStatic, m.encryptedPayload) };
}

/** A consumed initiation: who sent it, its timestamp and the Noise state for the response. */
export interface ConsumedInitiation extends NoiseState {
  readonly sender: number;
  readonly remoteStatic: Uint8Array;
  readonly remoteEphemeral: Uint8Array;
  readonly timestamp: Uint8Array;
}

/**
 * Decrypt a WireGuard initiation `m` (exactly 148 bytes, mac1 already checked) addressed to us.
 * `ssFor` maps the sender's static key to the precomputed DH(s, rs) of a known peer, or null.
 */
export function consumeInitiation(
  crypto: CryptoBackend, identity: StaticKeys, m: Uint8Array,
  ssFor: (remoteStatic: Uint8Array) => Uint8Array | null, trace?: HandshakeTrace,
): ConsumedInitiation | number {
  const f = initiationFields(m);
  const r = readMessage1(crypto, IDENTIFIER, identity, f.ephemeral, f.encryptedStatic, f.encryptedTimestamp, ssFor, trace);
  if (typeof r === 'number') return r;
  if (r.payload.length !== TAI64N_SIZE) return DROP_HANDSHAKE_INVALID;
  return { ck: r.ck, h: r.h, sender: f.sender, remoteStatic: r.remoteStatic, remoteEphemeral: r.remoteEphemeral, timestamp: r.payload };
}

/** A WireGuard response (92 bytes, macs zero) to a consumed initiation; null on an all-zero DH. */
export function createResponse(
  crypto: CryptoBackend, state: NoiseState, remoteEphemeral: Uint8Array, remoteStatic: Uint8Array,
  psk: Uint8Array, ephemeralPrivate: Uint8Array, sender: number, receiver: number, trace?: HandshakeTrace,
): BuiltMessage | null {
  const m = writeMessage2(crypto, state, remoteEphemeral, remoteStatic, psk, ephemeralPrivate, EMPTY, trace);
  if (m === null) return null;
  return { ck: m.ck, h: m.h, message: encodeResponse(sender, receiver, m.ephemeralPublic, m.encryptedPayload) };
}

/** A consumed response: the responder's index and the final Noise state. */
export interface ConsumedResponse extends NoiseState {
  readonly sender: number;
}

/** Decrypt a WireGuard response `m` (exactly 92 bytes, mac1 checked) to our initiation state. */
export function consumeResponse(
  crypto: CryptoBackend, identity: StaticKeys, state: NoiseState, ephemeralPrivate: Uint8Array,
  psk: Uint8Array, m: Uint8Array, trace?: HandshakeTrace,
): ConsumedResponse | number {
  const f = responseFields(m);
  const r = readMessage2(crypto, state, identity, ephemeralPrivate, psk, f.ephemeral, f.encryptedNothing, trace);
  if (typeof r === 'number') return r;
  if (r.payload.length !== 0) return DROP_HANDSHAKE_INVALID;
  return { ck: r.ck, h: r.h, sender: f.sender };
}
