// Every WireGuard protocol constant in one place (whitepaper §5.4 and §6, wireguard-go's
// device/constants.go). Times are milliseconds on the caller's monotonic clock; 64-bit message
// counters are given both as bigint (for tests and cold paths) and as two 32-bit halves (hi, lo),
// which is how the hot path stores them, because a JS number is exact only up to 2^53.

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Noise protocol name: the initial chaining key is HASH(CONSTRUCTION). */
export const CONSTRUCTION = text('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
/** WireGuard's identifier, mixed into the handshake hash like a Noise prologue. */
export const IDENTIFIER = text('WireGuard v1 zx2c4 Jason@zx2c4.com');
/** mac1 key = HASH(LABEL_MAC1 || receiver's static public key). */
export const LABEL_MAC1 = text('mac1----');
/** Cookie-reply key = HASH(LABEL_COOKIE || responder's static public key). */
export const LABEL_COOKIE = text('cookie--');

// ---- message types and sizes -------------------------------------------------------------

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_DATA = 4;

export const KEY_SIZE = 32;
export const MAC_SIZE = 16;
export const AEAD_TAG_SIZE = 16;
export const TAI64N_SIZE = 12;
export const COOKIE_SIZE = 16;
export const COOKIE_NONCE_SIZE = 24;

/** Handshake initiation: type(4) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1 mac2. */
export const INITIATION_SIZE = 148;
/** Handshake response: type(4) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1 mac2. */
export const RESPONSE_SIZE = 92;
/** Cookie reply: type(4) receiver(4) nonce(24) cookie(16+16). */
export const COOKIE_REPLY_SIZE = 64;
/** Transport data header: type(4) receiver(4) counter(8). */
export const DATA_HEADER_SIZE = 16;
/** Smallest data message: header + tag (a keepalive, empty plaintext). */
export const KEEPALIVE_SIZE = DATA_HEADER_SIZE + AEAD_TAG_SIZE;
/** Plaintext is zero-padded to a multiple of this (capped at the MTU when one is set). */
export const PADDING_MULTIPLE = 16;
/** Largest UDP payload, hence the largest data message and the largest plaintext we accept. */
export const MAX_MESSAGE_SIZE = 65535;
export const MAX_PLAINTEXT_SIZE = MAX_MESSAGE_SIZE - DATA_HEADER_SIZE - AEAD_TAG_SIZE;

// Field offsets.
export const INIT_OFF_SENDER = 4;
export const INIT_OFF_EPHEMERAL = 8;
export const INIT_OFF_STATIC = 40;
export const INIT_OFF_TIMESTAMP = 88;
export const INIT_OFF_MAC1 = 116;
export const INIT_OFF_MAC2 = 132;
export const RESP_OFF_SENDER = 4;
export const RESP_OFF_RECEIVER = 8;
export const RESP_OFF_EPHEMERAL = 12;
export const RESP_OFF_EMPTY = 44;
export const RESP_OFF_MAC1 = 60;
export const RESP_OFF_MAC2 = 76;
export const COOKIE_OFF_RECEIVER = 4;
export const COOKIE_OFF_NONCE = 8;
export const COOKIE_OFF_COOKIE = 32;
export const DATA_OFF_RECEIVER = 4;
export const DATA_OFF_COUNTER = 8;

// ---- message limits (64-bit counters) -----------------------------------------------------

/** After this many messages on a keypair the sender starts a new handshake. 2^60. */
export const REKEY_AFTER_MESSAGES = 1n << 60n;
/** High 32 bits of REKEY_AFTER_MESSAGES (its low half is 0). */
export const REKEY_AFTER_MESSAGES_HI = 0x10000000;
/** No message may use a counter at or beyond this: 2^64 - 2^13 - 1 (wireguard-go's value). */
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;
export const REJECT_AFTER_MESSAGES_HI = 0xffffffff;
export const REJECT_AFTER_MESSAGES_LO = 0xffffdfff;

// ---- timers (milliseconds) ----------------------------------------------------------------

export const REKEY_AFTER_TIME_MS = 120_000;
export const REJECT_AFTER_TIME_MS = 180_000;
export const REKEY_ATTEMPT_TIME_MS = 90_000;
export const REKEY_TIMEOUT_MS = 5_000;
/** Retransmit and new-handshake timers add a uniform jitter of 0..REKEY_TIMEOUT_JITTER_MAX_MS ms. */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 333;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** A cookie (initiator side) and the cookie secret (responder side) are valid this long. */
export const COOKIE_REFRESH_TIME_MS = 120_000;
/**
 * Retransmissions of one initiation before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18.
 * As in wireguard-go the retransmit timer gives up once the attempt count exceeds this, i.e.
 * after 20 initiations (~100 s).
 */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
/** All key material of a peer is erased when no new session was derived for this long. */
export const ZERO_KEYS_AFTER_MS = 3 * REJECT_AFTER_TIME_MS;
/**
 * The receive-side "last minute" rekey: the initiator of a session starts a new handshake when it
 * receives on a session older than REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT.
 */
export const REKEY_ON_RECEIVE_AFTER_MS = REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS;
/** Initiations from one peer closer together than this are dropped as a flood (wireguard-go). */
export const HANDSHAKE_INITIATION_RATE_MS = 20;

// ---- implementation bounds ----------------------------------------------------------------

/** Packets kept per peer while waiting for a session; the oldest is dropped when full. */
export const STAGED_QUEUE_SIZE = 128;
/** Anti-replay window (RFC 6479 bitmap of 128 64-bit blocks, one block of slack): 8128. */
export const REPLAY_BLOCK_BITS = 64;
export const REPLAY_RING_BLOCKS = 128;
export const REPLAY_WINDOW_SIZE = (REPLAY_RING_BLOCKS - 1) * REPLAY_BLOCK_BITS;

/** Handshake rate limiter under load: 20 initiations per second per source, burst of 5. */
export const RATELIMIT_PACKETS_PER_SECOND = 20;
export const RATELIMIT_BURST = 5;
export const RATELIMIT_PACKET_COST_MS = 1000 / RATELIMIT_PACKETS_PER_SECOND;
export const RATELIMIT_MAX_TOKENS_MS = RATELIMIT_PACKET_COST_MS * RATELIMIT_BURST;
/** Idle rate-limiter entries (full buckets) are forgotten after this long. */
export const RATELIMIT_GC_AFTER_MS = 1_000;
/** Bound on tracked sources; a new source beyond it is refused while under load. */
export const RATELIMIT_MAX_ENTRIES = 65_536;

/** TAI64N label of unix time 0: 2^62 + 10 (TAI - UTC offset as wireguard uses it). */
export const TAI64_BASE = 0x400000000000000an;
/** wireguard-go clears the low 24 bits of the nanoseconds of its timestamps (≈16 ms grain). */
export const TAI64N_WHITENER_MASK = 0xffffff;
