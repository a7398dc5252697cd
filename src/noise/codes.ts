// Result codes of the sans-IO engine. encapsulate/decapsulate return plain numbers so the hot path
// allocates nothing: a non-negative value is a success code (or a length), a negative value is a
// drop reason. Every drop reason is counted in WgEngine.dropsByReason[-code].

// ---- success codes -------------------------------------------------------------------------

/** decapsulate: a decrypted IP packet is at out[outOff, outOff + engine.lastLength) for engine.lastPeer. */
export const DECAP_TUNNEL = 0;
/** decapsulate: consumed (handshake message, keepalive, cookie reply); anything to send is in the outbox. */
export const DECAP_HANDLED = 1;
/** decapsulate: a cookie reply addressed to the datagram's source (outbox peer -1) is in the outbox. */
export const DECAP_REPLY_TO_SOURCE = 2;

/**
 * decapsulate with macs checked by the caller (MACS_MAC1): under load and no valid mac2; the
 * caller answers the source with its own cookie reply (the gate that checked the macs owns the
 * cookie secret). Nothing is in the outbox.
 */
export const DECAP_COOKIE_DUE = 3;

/** What the caller of decapsulate knows about a handshake message's macs. */
export const MACS_UNCHECKED = 0;
/** mac1 checked valid (by a gate with its own cookie secret); mac2 missing or not valid. */
export const MACS_MAC1 = 1;
/** mac1 and mac2 checked valid. */
export const MACS_MAC2 = 2;

/** encapsulate: no usable session; the packet was staged and a handshake started if allowed. */
export const ENCAP_QUEUED = -1;

// ---- drop reasons (negative) --------------------------------------------------------------

export const DROP_NO_PRIVATE_KEY = -2;
export const DROP_UNKNOWN_PEER = -3;
/** encapsulate: packet larger than MAX_PLAINTEXT_SIZE or the output buffer cannot hold the message. */
export const DROP_TOO_LARGE = -4;
/** Shorter than the smallest message of its type (or than 4 bytes). */
export const DROP_TOO_SHORT = -5;
/** A handshake message (types 1-3) whose length is not exactly its fixed size. */
export const DROP_BAD_SIZE = -6;
export const DROP_UNKNOWN_TYPE = -7;
export const DROP_RESERVED_NONZERO = -8;
export const DROP_BAD_MAC1 = -9;
/** Under load, a valid mac2 but the source exceeded its handshake rate. */
export const DROP_RATE_LIMITED = -10;
/** Initiation whose static key decrypts to no configured peer. */
export const DROP_UNKNOWN_PEER_KEY = -11;
/** A handshake AEAD failed to authenticate or a DH result was all zero. */
export const DROP_HANDSHAKE_INVALID = -12;
/** Initiation with a TAI64N timestamp not newer than the last one accepted from that peer. */
export const DROP_REPLAYED_INITIATION = -13;
/** Initiation less than HANDSHAKE_INITIATION_RATE_MS after the previous one from that peer. */
export const DROP_INITIATION_FLOOD = -14;
/** Response or cookie reply for an index we have no matching handshake for. */
export const DROP_UNEXPECTED_MESSAGE = -15;
export const DROP_BAD_COOKIE_REPLY = -16;
/** Data message for a receiver index with no keypair. */
export const DROP_UNKNOWN_INDEX = -17;
/** Data message on a keypair older than REJECT_AFTER_TIME. */
export const DROP_KEYPAIR_EXPIRED = -18;
export const DROP_DECRYPT_FAILED = -19;
/** Counter already seen, too old for the window, or beyond REJECT_AFTER_MESSAGES. */
export const DROP_REPLAY = -20;
/** Decrypted payload is not a well-formed IPv4/IPv6 packet (version or length field). */
export const DROP_BAD_INNER_PACKET = -21;
/** Counted, not returned: a staged packet pushed out because the queue was full. */
export const DROP_STAGED_OVERFLOW = -22;
/** Counted, not returned: staged packets flushed because the handshake gave up or keys were zeroed. */
export const DROP_STAGED_EXPIRED = -23;

/** Size of WgEngine.dropsByReason (indexed by -code). */
export const DROP_REASON_COUNT = 24;

const NAMES: Record<number, string> = {
  [ENCAP_QUEUED]: 'queued',
  [DROP_NO_PRIVATE_KEY]: 'no-private-key',
  [DROP_UNKNOWN_PEER]: 'unknown-peer',
  [DROP_TOO_LARGE]: 'too-large',
  [DROP_TOO_SHORT]: 'too-short',
  [DROP_BAD_SIZE]: 'bad-size',
  [DROP_UNKNOWN_TYPE]: 'unknown-type',
  [DROP_RESERVED_NONZERO]: 'reserved-nonzero',
  [DROP_BAD_MAC1]: 'bad-mac1',
  [DROP_RATE_LIMITED]: 'rate-limited',
  [DROP_UNKNOWN_PEER_KEY]: 'unknown-peer-key',
  [DROP_HANDSHAKE_INVALID]: 'handshake-invalid',
  [DROP_REPLAYED_INITIATION]: 'replayed-initiation',
  [DROP_INITIATION_FLOOD]: 'initiation-flood',
  [DROP_UNEXPECTED_MESSAGE]: 'unexpected-message',
  [DROP_BAD_COOKIE_REPLY]: 'bad-cookie-reply',
  [DROP_UNKNOWN_INDEX]: 'unknown-index',
  [DROP_KEYPAIR_EXPIRED]: 'keypair-expired',
  [DROP_DECRYPT_FAILED]: 'decrypt-failed',
  [DROP_REPLAY]: 'replay',
  [DROP_BAD_INNER_PACKET]: 'bad-inner-packet',
  [DROP_STAGED_OVERFLOW]: 'staged-overflow',
  [DROP_STAGED_EXPIRED]: 'staged-expired',
};

/** Human-readable name of a negative result code (for logs and metrics labels). */
export function dropReasonName(code: number): string {
  return NAMES[code] ?? `code-${code}`;
}
