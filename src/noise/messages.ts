// Wire format of WireGuard's four messages (whitepaper §5.4): classification with exact size and
// reserved-byte checks, field views for the handshake messages, and encoders. Nothing here throws
// on bad input: malformed bytes yield a negative reason code from codes.ts.

import {
  DROP_BAD_SIZE,
  DROP_RESERVED_NONZERO,
  DROP_TOO_SHORT,
  DROP_UNKNOWN_TYPE,
} from './codes.js';
import {
  COOKIE_OFF_COOKIE,
  COOKIE_OFF_NONCE,
  COOKIE_OFF_RECEIVER,
  COOKIE_REPLY_SIZE,
  DATA_OFF_COUNTER,
  DATA_OFF_RECEIVER,
  INITIATION_SIZE,
  INIT_OFF_EPHEMERAL,
  INIT_OFF_MAC1,
  INIT_OFF_MAC2,
  INIT_OFF_SENDER,
  INIT_OFF_STATIC,
  INIT_OFF_TIMESTAMP,
  KEEPALIVE_SIZE,
  MSG_COOKIE_REPLY,
  MSG_DATA,
  MSG_INITIATION,
  MSG_RESPONSE,
  RESPONSE_SIZE,
  RESP_OFF_EMPTY,
  RESP_OFF_EPHEMERAL,
  RESP_OFF_MAC1,
  RESP_OFF_MAC2,
  RESP_OFF_RECEIVER,
  RESP_OFF_SENDER,
} from './constants.js';

/** Little-endian uint32 at b[off]. */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Write a little-endian uint32 at b[off]. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/**
 * The message type (MSG_INITIATION..MSG_DATA) of datagram b[off, off + len), or a negative reason:
 * DROP_TOO_SHORT (under 4 bytes, a data message under 32, or a range outside b), DROP_UNKNOWN_TYPE,
 * DROP_RESERVED_NONZERO (bytes 1-3 must be zero), DROP_BAD_SIZE (types 1-3 have one exact size).
 */
export function classifyMessage(b: Uint8Array, off: number, len: number): number {
  if (len < 4 || off < 0 || off + len > b.length) return DROP_TOO_SHORT;
  const type = b[off]!;
  if (type < MSG_INITIATION || type > MSG_DATA) return DROP_UNKNOWN_TYPE;
  if ((b[off + 1]! | b[off + 2]! | b[off + 3]!) !== 0) return DROP_RESERVED_NONZERO;
  switch (type) {
    case MSG_INITIATION:
      return len === INITIATION_SIZE ? type : DROP_BAD_SIZE;
    case MSG_RESPONSE:
      return len === RESPONSE_SIZE ? type : DROP_BAD_SIZE;
    case MSG_COOKIE_REPLY:
      return len === COOKIE_REPLY_SIZE ? type : DROP_BAD_SIZE;
    default:
      return len >= KEEPALIVE_SIZE ? type : DROP_TOO_SHORT;
  }
}

/** Fields of a handshake initiation; byte fields are views into the message. */
export interface InitiationFields {
  readonly sender: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedStatic: Uint8Array;
  readonly encryptedTimestamp: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

/** Fields of a handshake response; byte fields are views into the message. */
export interface ResponseFields {
  readonly sender: number;
  readonly receiver: number;
  readonly ephemeral: Uint8Array;
  readonly encryptedNothing: Uint8Array;
  readonly mac1: Uint8Array;
  readonly mac2: Uint8Array;
}

/** Fields of a cookie reply; byte fields are views into the message. */
export interface CookieReplyFields {
  readonly receiver: number;
  readonly nonce: Uint8Array;
  readonly encryptedCookie: Uint8Array;
}

/** Split a classified initiation (exactly INITIATION_SIZE bytes at m[0..]) into its fields. */
export function initiationFields(m: Uint8Array): InitiationFields {
  return {
    sender: readU32(m, INIT_OFF_SENDER),
    ephemeral: m.subarray(INIT_OFF_EPHEMERAL, INIT_OFF_STATIC),
    encryptedStatic: m.subarray(INIT_OFF_STATIC, INIT_OFF_TIMESTAMP),
    encryptedTimestamp: m.subarray(INIT_OFF_TIMESTAMP, INIT_OFF_MAC1),
    mac1: m.subarray(INIT_OFF_MAC1, INIT_OFF_MAC2),
    mac2: m.subarray(INIT_OFF_MAC2, INITIATION_SIZE),
  };
}

/** Split a classified response (exactly RESPONSE_SIZE bytes at m[0..]) into its fields. */
export function responseFields(m: Uint8Array): ResponseFields {
  return {
    sender: readU32(m, RESP_OFF_SENDER),
    receiver: readU32(m, RESP_OFF_RECEIVER),
    ephemeral: m.subarray(RESP_OFF_EPHEMERAL, RESP_OFF_EMPTY),
    encryptedNothing: m.subarray(RESP_OFF_EMPTY, RESP_OFF_MAC1),
    mac1: m.subarray(RESP_OFF_MAC1, RESP_OFF_MAC2),
    mac2: m.subarray(RESP_OFF_MAC2, RESPONSE_SIZE),
  };
}

/** Split a classified cookie reply (exactly COOKIE_REPLY_SIZE bytes at m[0..]) into its fields. */
export function cookieReplyFields(m: Uint8Array): CookieReplyFields {
  return {
    receiver: readU32(m, COOKIE_OFF_RECEIVER),
    nonce: m.subarray(COOKIE_OFF_NONCE, COOKIE_OFF_COOKIE),
    encryptedCookie: m.subarray(COOKIE_OFF_COOKIE, COOKIE_REPLY_SIZE),
  };
}

/** A new initiation with type, sender and Noise fields set and mac1/mac2 zero (added by cookie.ts). */
export function encodeInitiation(sender: number, ephemeral: Uint8Array, encryptedStatic: Uint8Array, encryptedTimestamp: Uint8Array): Uint8Array {
  const m = new Uint8Array(INITIATION_SIZE);
  m[0] = MSG_INITIATION;
  writeU32(m, INIT_OFF_SENDER, sender);
  m.set(ephemeral, INIT_OFF_EPHEMERAL);
  m.set(encryptedStatic, INIT_OFF_STATIC);
  m.set(encryptedTimestamp, INIT_OFF_TIMESTAMP);
  return m;
}

/** A new response with type, indices and Noise fields set and mac1/mac2 zero. */
export function encodeResponse(sender: number, receiver: number, ephemeral: Uint8Array, encryptedNothing: Uint8Array): Uint8Array {
  const m = new Uint8Array(RESPONSE_SIZE);
  m[0] = MSG_RESPONSE;
  writeU32(m, RESP_OFF_SENDER, sender);
  writeU32(m, RESP_OFF_RECEIVER, receiver);
  m.set(ephemeral, RESP_OFF_EPHEMERAL);
  m.set(encryptedNothing, RESP_OFF_EMPTY);
  return m;
}

/** A cookie reply message. */
export function encodeCookieReply(receiver: number, nonce: Uint8Array, encryptedCookie: Uint8Array): Uint8Array {
  const m = new Uint8Array(COOKIE_REPLY_SIZE);
  m[0] = MSG_COOKIE_REPLY;
  writeU32(m, COOKIE_OFF_RECEIVER, receiver);
  m.set(nonce, COOKIE_OFF_NONCE);
  m.set(encryptedCookie, COOKIE_OFF_COOKIE);
  return m;
}

/** Write a data-message header (type 4, zero reserved, receiver, 64-bit counter as lo/hi halves). */
export function writeDataHeader(b: Uint8Array, off: number, receiver: number, counterLo: number, counterHi: number): void {
  b[off] = MSG_DATA;
  b[off + 1] = 0;
  b[off + 2] = 0;
  b[off + 3] = 0;
  writeU32(b, off + DATA_OFF_RECEIVER, receiver);
  writeU32(b, off + DATA_OFF_COUNTER, counterLo);
  writeU32(b, off + DATA_OFF_COUNTER + 4, counterHi);
}

/** Where mac1 starts in a handshake message of this type (the bytes mac1 covers end here). */
export function mac1Offset(type: number): number {
  return type === MSG_INITIATION ? INIT_OFF_MAC1 : RESP_OFF_MAC1;
}
