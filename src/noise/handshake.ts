// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard instantiates it (whitepaper §5.4.2-5.4.3).
// Two layers: a generic Noise core (prologue and payloads are parameters, so the cacophony test
// vector drives the same code) and WireGuard's message builders/parsers on top of it (prologue =
// IDENTIFIER, initiation payload = TAI64N timestamp, empty response payload, sender/receiver
// indices). All functions are pure: keys, ephemerals, indices and timestamps come in as arguments.
// Every step can be reported to an optional trace callback numbered like the whitepaper's steps.

import { secretBytes } from '../crypto/bytes.js';
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

// Scratch for the secrets of one step (an AEAD key, a DH result, tau). Off-heap from the start
// (secretBytes), written by the crypto backend in place and zeroed before each function returns:
// no copy of them outlives the step. The chaining key and hash of a handshake are updated in place
// in their own two buffers, so no older value of them stays behind either.
const STEP_K = secretBytes(KEY_SIZE);
const STEP_DH = secretBytes(KEY_SIZE);
const STEP_TAU = secretBytes(KEY_SIZE);

function wipeSteps(): void {
  STEP_K.fill(0);
  STEP_DH.fill(0);
  STEP_TAU.fill(0);
}

/** Hands a copy to the trace (tests): the buffers themselves keep changing in place. */
function emit(trace: HandshakeTrace | undefined, step: number, name: string, value: Uint8Array): void {
  if (trace !== undefined) trace(step, name, value.slice());
}

/** A fresh state holding a copy of `from` (the caller's state stays as it was). */
function copyState(from: NoiseState): { ck: Uint8Array; h: Uint8Array } {
  const ck = secretBytes(KEY_SIZE);
  const h = secretBytes(KEY_SIZE);
  ck.set(from.ck);
  h.set(from.h);
  return { ck, h };
}

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
function initialState(crypto: CryptoBackend, prologue: Uint8Array, responderStatic: Uint8Array, trace?: HandshakeTrace): { ck: Uint8Array; h: Uint8Array } {
  const ck = secretBytes(KEY_SIZE);
  const h = secretBytes(KEY_SIZE);
  crypto.hashInto(ck, CONSTRUCTION);
  emit(trace, 1, 'C', ck);
  crypto.hashInto(h, ck, prologue);
  emit(trace, 2, 'H', h);
  crypto.hashInto(h, h, responderStatic);
  emit(trace, 3, 'H', h);
  return { ck, h };
}

/** Result of writing the first handshake message. */
export interface Message1 extends NoiseState {
  readonly ephemeralPublic: Uint8Array;
  readonly encryptedStatic: Uint8Array;
  readonly encryptedPayload: Uint8Array;
}

/** Steps 4-5 / 12-13: C = KDF1(C, e); H = HASH(H || e) for an ephemeral public key e (in place). */
function mixEphemeral(crypto: CryptoBackend, st: NoiseState, e: Uint8Array, step: number, trace?: HandshakeTrace): void {
  crypto.kdfInto(st.ck, e, st.ck);
  emit(trace, step, 'C', st.ck);
  crypto.hashInto(st.h, st.h, e);
  emit(trace, step + 1, 'H', st.h);
}

/** H = HASH(H || data), in place. */
function mixHash(crypto: CryptoBackend, st: NoiseState, data: Uint8Array, step: number, trace?: HandshakeTrace): void {
  crypto.hashInto(st.h, st.h, data);
  emit(trace, step, 'H', st.h);
}

/**
 * A DH mixed into the chaining key in place: dh = DH(priv, pub), then C = KDF1(C, dh), or
 * (C, k) = KDF2(C, dh) when `k` is given. `dh` given = a precomputed static-static DH. False (C
 * unchanged) when the DH result is all zero. The DH result in scratch is wiped.
 */
function mixDh(
  crypto: CryptoBackend, ck: Uint8Array, k: Uint8Array | null, priv: Uint8Array, pub: Uint8Array, step: number,
  trace?: HandshakeTrace, dh?: Uint8Array,
): boolean {
  let shared = dh;
  if (shared === undefined) {
    if (!crypto.x25519Into(STEP_DH, priv, pub)) return false;
    shared = STEP_DH;
  }
  emit(trace, step, 'dh', shared);
  if (k === null) crypto.kdfInto(ck, shared, ck);
  else crypto.kdfInto(ck, shared, ck, k);
  STEP_DH.fill(0);
  emit(trace, step, 'C', ck);
  if (k !== null) emit(trace, step, 'k', k);
  return true;
}

/**
 * Initiator, message 1 (-> e, es, s, ss). `ss` may be the precomputed DH(s, rs) (null: computed
 * here). Returns null when a DH result is all zero.
 */
export function writeMessage1(
  crypto: CryptoBackend, prologue: Uint8Array, s: StaticKeys, rs: Uint8Array, ss: Uint8Array | null,
  ephemeralPrivate: Uint8Array, payload: Uint8Array, trace?: HandshakeTrace,
): Message1 | null {
  try {
    const st = initialState(crypto, prologue, rs, trace);
    const ephemeralPublic = new Uint8Array(KEY_SIZE);
    crypto.x25519PublicInto(ephemeralPublic, ephemeralPrivate);
    mixEphemeral(crypto, st, ephemeralPublic, 4, trace);
    if (!mixDh(crypto, st.ck, STEP_K, ephemeralPrivate, rs, 6, trace)) return wipeState(st);
    const encryptedStatic = seal(crypto, STEP_K, s.publicKey, st.h);
    emit(trace, 7, 'ciphertext', encryptedStatic);
    mixHash(crypto, st, encryptedStatic, 8, trace);
    if (!mixDh(crypto, st.ck, STEP_K, s.privateKey, rs, 9, trace, ss ?? undefined)) return wipeState(st);
    const encryptedPayload = seal(crypto, STEP_K, payload, st.h);
    emit(trace, 10, 'ciphertext', encryptedPayload);
    mixHash(crypto, st, encryptedPayload, 11, trace);
    return { ck: st.ck, h: st.h, ephemeralPublic, encryptedStatic, encryptedPayload };
  } finally {
    wipeSteps();
  }
}

/** Zero a state that is being abandoned; returns null for the caller's convenience. */
function wipeState(st: NoiseState): null {
  st.ck.fill(0);
  st.h.fill(0);
  return null;
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
  try {
    const st = initialState(crypto, prologue, s.publicKey, trace);
    const remoteEphemeral = secretBytes(KEY_SIZE);
    remoteEphemeral.set(ephemeral);
    mixEphemeral(crypto, st, remoteEphemeral, 4, trace);
    if (!mixDh(crypto, st.ck, STEP_K, s.privateKey, remoteEphemeral, 6, trace)) return (wipeState(st), DROP_HANDSHAKE_INVALID);
    const remoteStatic = open(crypto, STEP_K, encryptedStatic, st.h);
    if (remoteStatic === null || remoteStatic.length !== KEY_SIZE) return (wipeState(st), DROP_HANDSHAKE_INVALID);
    emit(trace, 7, 'ciphertext', encryptedStatic);
    mixHash(crypto, st, encryptedStatic, 8, trace);
    const ss = ssFor(remoteStatic);
    if (ss === null) return (wipeState(st), DROP_UNKNOWN_PEER_KEY);
    mixDh(crypto, st.ck, STEP_K, s.privateKey, remoteStatic, 9, trace, ss);
    const payload = open(crypto, STEP_K, encryptedPayload, st.h);
    if (payload === null) return (wipeState(st), DROP_HANDSHAKE_INVALID);
    emit(trace, 10, 'ciphertext', encryptedPayload);
    mixHash(crypto, st, encryptedPayload, 11, trace);
    return { ck: st.ck, h: st.h, remoteStatic, remoteEphemeral, payload };
  } finally {
    wipeSteps();
  }
}

/** Result of writing the second handshake message. */
export interface Message2 extends NoiseState {
  readonly ephemeralPublic: Uint8Array;
  readonly encryptedPayload: Uint8Array;
}

/** Steps 16-17: (C, tau, k) = KDF3(C, psk) with k into STEP_K; H = HASH(H || tau), in place. */
function mixPsk(crypto: CryptoBackend, st: NoiseState, psk: Uint8Array, trace?: HandshakeTrace): void {
  crypto.kdfInto(st.ck, psk, st.ck, STEP_TAU, STEP_K);
  emit(trace, 16, 'C', st.ck);
  emit(trace, 16, 'tau', STEP_TAU);
  emit(trace, 16, 'k', STEP_K);
  crypto.hashInto(st.h, st.h, STEP_TAU);
  STEP_TAU.fill(0);
  emit(trace, 17, 'H', st.h);
}

/**
 * Responder, message 2 (<- e, ee, se, psk) after readMessage1. `psk` is 32 bytes (zeros when none).
 * Returns null when a DH result is all zero. `state` is not modified.
 */
export function writeMessage2(
  crypto: CryptoBackend, state: NoiseState, remoteEphemeral: Uint8Array, remoteStatic: Uint8Array,
  psk: Uint8Array, ephemeralPrivate: Uint8Array, payload: Uint8Array, trace?: HandshakeTrace,
): Message2 | null {
  try {
    const st = copyState(state);
    const ephemeralPublic = new Uint8Array(KEY_SIZE);
    crypto.x25519PublicInto(ephemeralPublic, ephemeralPrivate);
    mixEphemeral(crypto, st, ephemeralPublic, 12, trace);
    if (!mixDh(crypto, st.ck, null, ephemeralPrivate, remoteEphemeral, 14, trace)) return wipeState(st);
    if (!mixDh(crypto, st.ck, null, ephemeralPrivate, remoteStatic, 15, trace)) return wipeState(st);
    mixPsk(crypto, st, psk, trace);
    const encryptedPayload = seal(crypto, STEP_K, payload, st.h);
    emit(trace, 18, 'ciphertext', encryptedPayload);
    mixHash(crypto, st, encryptedPayload, 19, trace);
    return { ck: st.ck, h: st.h, ephemeralPublic, encryptedPayload };
  } finally {
    wipeSteps();
  }
}

/** Result of reading the second handshake message. */
export interface ReadMessage2 extends NoiseState {
  readonly payload: Uint8Array;
}

/**
 * Initiator, message 2, after writeMessage1. Returns the state or DROP_HANDSHAKE_INVALID.
 * `state` is not modified.
 */
export function readMessage2(
  crypto: CryptoBackend, state: NoiseState, s: StaticKeys, ephemeralPrivate: Uint8Array, psk: Uint8Array,
  ephemeral: Uint8Array, encryptedPayload: Uint8Array, trace?: HandshakeTrace,
): ReadMessage2 | number {
  try {
    const st = copyState(state);
    mixEphemeral(crypto, st, ephemeral, 12, trace);
    if (!mixDh(crypto, st.ck, null, ephemeralPrivate, ephemeral, 14, trace)) return (wipeState(st), DROP_HANDSHAKE_INVALID);
    if (!mixDh(crypto, st.ck, null, s.privateKey, ephemeral, 15, trace)) return (wipeState(st), DROP_HANDSHAKE_INVALID);
    mixPsk(crypto, st, psk, trace);
    const payload = open(crypto, STEP_K, encryptedPayload, st.h);
    if (payload === null) return (wipeState(st), DROP_HANDSHAKE_INVALID);
    emit(trace, 18, 'ciphertext', encryptedPayload);
    mixHash(crypto, st, encryptedPayload, 19, trace);
    return { ck: st.ck, h: st.h, payload };
  } finally {
    wipeSteps();
  }
}

/** Transport keys (T1, T2) = KDF2(C, empty): the initiator sends with T1, the responder with T2. */
export function transportKeys(crypto: CryptoBackend, ck: Uint8Array): [Uint8Array, Uint8Array] {
  const t1 = secretBytes(KEY_SIZE);
  const t2 = secretBytes(KEY_SIZE);
  crypto.kdfInto(ck, EMPTY, t1, t2);
  return [t1, t2];
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
