// When is an interface "under load" (whitepaper §5.3: cookies and per-source rate limits apply
// only then)? Not at a fixed rate of initiations, which an attacker can stay just below while
// each one costs two X25519: like the kernel and wireguard-go, by the backlog of handshake
// messages waiting to be processed (an eighth of the queue), and also by the share of time the
// last windows spent on handshake work. Messages a gate turned away before the queue (under load,
// without a valid mac2: answered with a cookie reply) count as backlog too, within a window: had
// they not been answered they would be waiting, as in the kernel's queue, which holds them until
// its worker sends the cookie reply. Once triggered the state lasts UNDER_LOAD_AFTER_MS
// (wireguard-go's UnderLoadAfterTime). Sans-IO: the caller passes its monotonic clock (ms).

/** Handshake messages that may wait for processing (wireguard-go's QueueHandshakeSize). */
export const HANDSHAKE_QUEUE_SIZE = 1024;
/** A backlog of this many waiting handshake messages means load (an eighth of the queue, as wireguard-go and the kernel). */
export const UNDER_LOAD_BACKLOG = HANDSHAKE_QUEUE_SIZE / 8;
/** Share of a window spent on handshake work that means load. */
export const UNDER_LOAD_BUSY_SHARE = 0.25;
/** Length of the windows the busy share is measured over (ms). */
export const LOAD_WINDOW_MS = 200;
/** How long the state lasts after the last trigger (ms). */
export const UNDER_LOAD_AFTER_MS = 1000;
/**
 * The most one handshake message counts toward the busy share (ms). A message's own work is
 * 0.1–0.5 ms; wall time beyond that is the host's scheduler running something else, and a loaded
 * host must not put the interface under load (and make every laptop wait a retry for its
 * cookie) because of one slow handshake.
 */
export const HANDSHAKE_WORK_MAX_MS = 1;
/** Most time handshake work may take per event-loop turn before data is served again (ms). */
export const HANDSHAKE_BUDGET_MS = 2;

/** The under-load state of one interface. */
export class HandshakeLoad {
  private windowStart = -Infinity;
  private busyMs = 0;
  private until = -Infinity;
  private deflectedStart = -Infinity;
  private deflectedCount = 0;
  /** How often the state was entered (for the status file). */
  entered = 0;
  private state = false;

  /** Under load now? */
  get underLoad(): boolean { return this.state; }

  /** Handshake work of `ms` milliseconds ended at `now`. */
  spent(ms: number, now: number): void {
    if (now - this.windowStart >= LOAD_WINDOW_MS) {
      this.windowStart = now;
      this.busyMs = 0;
    }
    this.busyMs += ms;
    if (this.busyMs >= LOAD_WINDOW_MS * UNDER_LOAD_BUSY_SHARE) this.trigger(now);
  }

  /**
   * The current backlog (handshake messages waiting) and how many messages were turned away
   * before the queue since the last call; returns the state at `now`.
   */
  update(backlog: number, now: number, deflected = 0): boolean {
    if (backlog >= UNDER_LOAD_BACKLOG) this.trigger(now);
    if (deflected > 0) {
      if (now - this.deflectedStart >= LOAD_WINDOW_MS) {
        this.deflectedStart = now;
        this.deflectedCount = 0;
      }
      this.deflectedCount += deflected;
      if (this.deflectedCount >= UNDER_LOAD_BACKLOG) this.trigger(now);
    }
    const next = now < this.until;
    if (next && !this.state) this.entered++;
    this.state = next;
    return next;
  }

  private trigger(now: number): void {
    this.until = now + UNDER_LOAD_AFTER_MS;
  }
}
