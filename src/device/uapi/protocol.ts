// The cross-platform UAPI configuration protocol (https://www.wireguard.com/xplatform/): the text
// that `wg` exchanges with a userspace implementation over /var/run/wireguard/IFNAME.sock.
//
// This module is pure: it parses `set=1` bodies into calls on an abstract UapiTarget (the device
// implements it) and formats a UapiState snapshot into the `get=1` reply. No sockets, no timers.
//
// Behaviour mirrors wireguard-go (device/uapi.go). Facts marked "observed" were checked byte for
// byte against the Debian wireguard-go 0.0.20220316 binary over its socket; "(source)" ones were
// read in wireguard-go's code:
//
// set=1 body
//   - Lines are `key=value`, split at the FIRST '='; one trailing '\r' is dropped (Go's
//     bufio.ScanLines does that); the first empty line ends the body. A line without '=' is a
//     protocol error: errno=-71 (EPROTO). Every other bad line is errno=-22 (EINVAL): unknown key,
//     bad value, device key after the first public_key line, `replace_peers=false`, etc.
//   - Not transactional: lines are applied in order and stay applied; at the first failing line
//     the operation stops and later lines are not applied (observed: `bogus` then
//     `listen_port=51823` leaves the port unchanged; a peer created by `public_key=` stays when a
//     later line of its block fails).
//   - Hex keys: exactly 64 hex digits, either case (observed: uppercase accepted); output is
//     lowercase. private_key: all zeros clears the key (observed: private_key then omitted from
//     get); any other value is clamped before use (observed: ff..ff reads back f8ff..ff7f).
//   - listen_port / persistent_keepalive_interval: decimal 0..65535, fwmark 0..2^32-1; Go's
//     ParseUint: digits only, leading zeros allowed, no sign, no spaces (observed: "+80", " 80",
//     "-1", "70000" -> -22). A failure to bind the port is errno=-98 (EADDRINUSE) (observed with a
//     UDP socket holding the port; wireguard-go then has no socket at all and reads listen_port 0).
//     A failure to set the fwmark is also -98 (source).
//   - replace_peers, update_only, remove, replace_allowed_ips accept only "true" (observed: "TRUE",
//     "false", "1" -> -22); protocol_version only "1" (-22 otherwise, also as a device key).
//   - public_key equal to the device's own public key selects a placeholder: the block's lines are
//     validated but change nothing (observed: no peer appears). The all-zero public key is
//     accepted as an ordinary peer (observed).
//   - update_only=true after a public_key that created the peer removes it again, and the rest of
//     the block is ignored (observed); on an existing peer it does nothing. remove=true removes the
//     peer and the rest of its block is ignored (observed).
//   - endpoint: Go's netip.ParseAddrPort: `a.b.c.d:port` or `[ipv6]:port`, no host names, IPv4 in
//     brackets or IPv6 without them rejected, leading-zero IPv4 octets rejected, port digits with
//     leading zeros allowed, port 0 allowed, IPv6 zone `[fe80::1%lo]:5` accepted (all observed).
//   - allowed_ip: Go's netip.ParsePrefix: address '/' length (no bare address, no zone); host bits
//     are cleared when stored and read back masked (observed: 10.1.2.3/24 -> 10.1.2.0/24).
//     `allowed_ip=-prefix` removes that prefix from the peer: current wireguard-go (and
//     wireguard-tools >= 1.0.20250521) support it; Debian 0.0.20220316 answers -22 (observed).
//     The prefix length must be 0 or start with 1-9 (current Go); Go 1.18-built 0.0.20220316
//     also took "/024" and "/+24" (observed), which we reject like current wireguard-go.
//   - Peer post-configuration (start the peer, send a keepalive when persistent keepalive was
//     just turned on, flush staged packets) runs when the peer's block ends: at the next
//     public_key line, the empty line or end of input. It does not run for the block in which an
//     error occurred (source: wireguard-go returns before it). Unlike wireguard-go, the "keepalive just
//     turned on" flag is per peer (wireguard-go carries it over into the next peer's block).
//     When the whole operation is over, target.setDone() runs (the device then sends what was
//     staged before a private key existed, as the kernel does; wireguard-go waits for a timer).
//
// get=1 reply (observed key order; omitted keys noted)
//   private_key=<hex>            only when a private key is set
//   listen_port=<n>              only when not 0
//   fwmark=<n>                   only when not 0
//   then per peer:
//   public_key=<hex>
//   preshared_key=<hex>          always; 64 zeros when there is none
//   protocol_version=1
//   endpoint=<ip:port>           only when known; IPv6 as [addr]:port, IPv4-mapped as
//                                [::ffff:a.b.c.d]:port, IPv6 lowercase and compressed
//   last_handshake_time_sec=<n>  absolute Unix time, 0 when never
//   last_handshake_time_nsec=<n>
//   tx_bytes=<n>
//   rx_bytes=<n>
//   persistent_keepalive_interval=<n>   always, 0 when off
//   allowed_ip=<prefix>          per prefix, in insertion order (re-adding moves it last)
//   errno=0
//   <empty line>
// Endpoint zones are printed (`[fe80::1%lo]:5`) as current wireguard-go does; 0.0.20220316
// dropped them (observed `[fe80::1]:5`).

import { isAllZero } from '../../crypto/bytes.js';
import { clampPrivateKey, keyFromHex, keyToHex, KEY_LEN } from '../../crypto/keys.js';
import { formatAddr, maskInPlace, parseAddr, parseCidr, type Prefix } from '../../router/prefix.js';

/** The errno values the protocol reports (negated Linux errno, as wireguard-go writes them). */
export const UapiErrno = {
  /** Input could not be read (line too long, request too large) or the target failed otherwise. */
  IO: -5,
  /** A bad key or value. */
  INVAL: -22,
  /** A line without '='. */
  PROTO: -71,
  /** The listen port (or fwmark) could not be applied to the socket. */
  ADDRINUSE: -98,
} as const;

/** An error carrying the errno to report. Targets throw it to choose the errno themselves. */
export class UapiError extends Error {
  constructor(readonly errno: number, message: string) {
    super(message);
    this.name = 'UapiError';
  }
}

/** A peer endpoint as UAPI carries it: a literal address (never a host name) and a port. */
export interface UapiEndpoint {
  /** 4 bytes for IPv4, 16 for IPv6 (an IPv4-mapped IPv6 address stays 16 bytes, as written). */
  readonly addr: Uint8Array;
  /** IPv6 zone (scope) after '%', or '' when none. */
  readonly zone: string;
  readonly port: number;
}

/** One peer as the target exposes it to a set operation (valid until the peer is removed). */
export interface UapiPeer {
  /** Sets the preshared key; null means none (the all-zero key). `key` is zeroed after the call: copy it. */
  setPresharedKey(key: Uint8Array | null): void;
  setEndpoint(endpoint: UapiEndpoint): void;
  /** Sets the persistent keepalive interval in seconds (0 = off) and returns the previous one. */
  setPersistentKeepaliveInterval(seconds: number): number;
  /** Removes every allowed IP of this peer (replace_allowed_ips=true). */
  removeAllAllowedIps(): void;
  /** Adds a prefix (its host bits already cleared); a prefix owned by another peer moves here. */
  addAllowedIp(prefix: Prefix): void;
  /** Removes the prefix if this peer owns it; otherwise does nothing. */
  removeAllowedIp(prefix: Prefix): void;
}

/**
 * What a set operation configures: the device. Methods may throw; the errno reported is the one of
 * a thrown UapiError, else the one wireguard-go reports at that step (EADDRINUSE for
 * setListenPort / setFwmark, EINVAL for createPeer, EIO for everything else).
 */
export interface UapiTarget {
  /**
   * Sets the static private key (32 bytes, already clamped) or clears it (null). wireguard-go also
   * removes a peer whose public key equals the new public key. `key` is zeroed after the call:
   * the target keeps its own copy.
   */
  setPrivateKey(key: Uint8Array | null): void;
  /**
   * Rebinds the UDP socket to `port` (0 = any free port). May return a promise (an asynchronous
   * bind): the set operation waits for it before its next line, and a rejection is its errno.
   */
  setListenPort(port: number): void | Promise<void>;
  /** Sets the fwmark of the UDP socket (0 = none); may return a promise like setListenPort. */
  setFwmark(mark: number): void | Promise<void>;
  /** Removes every peer (replace_peers=true). */
  removeAllPeers(): void;
  /** The public key of the current private key, or null when none is set. */
  ownPublicKey(): Uint8Array | null;
  /** The peer with this public key, if any. */
  findPeer(publicKey: Uint8Array): UapiPeer | undefined;
  /** Creates a peer with defaults (no endpoint, no preshared key, keepalive off, no allowed IPs). */
  createPeer(publicKey: Uint8Array): UapiPeer;
  /** Removes the peer with this public key. */
  removePeer(publicKey: Uint8Array): void;
  /**
   * Called when a peer's block of a set operation is complete (see the module comment): the
   * device starts the peer if it is up, sends a keepalive when `keepaliveTurnedOn`, and sends
   * packets staged for it.
   */
  peerConfigured(peer: UapiPeer, info: { created: boolean; keepaliveTurnedOn: boolean }): void;
  /**
   * Optional: called once when a set operation is over, after its last line was applied (also when
   * a line failed: the lines before it stay applied). The device sends what waited for the
   * configuration as a whole (packets staged before a private key was set).
   */
  setDone?(): void;
  /**
   * A snapshot of the configuration and counters for a get operation. Its keys are copies, which
   * getReply zeroes once the reply is formatted.
   */
  getState(): UapiState;
}

/** One peer in a get reply. */
export interface UapiPeerState {
  readonly publicKey: Uint8Array;
  /** Absent or null when none (printed as 64 zeros). */
  readonly presharedKey?: Uint8Array | null;
  /** Absent or null when not known (the line is omitted). */
  readonly endpoint?: UapiEndpoint | null;
  /** Time of the last completed handshake as absolute Unix seconds + nanoseconds; 0/0 = never. */
  readonly lastHandshakeTimeSec: number;
  readonly lastHandshakeTimeNsec: number;
  readonly txBytes: number;
  readonly rxBytes: number;
  readonly persistentKeepaliveInterval: number;
  /** Canonical prefix text (router/prefix formatPrefix), in insertion order. */
  readonly allowedIps: readonly string[];
  readonly protocolVersion: number;
}

/** The device in a get reply. */
export interface UapiState {
  /** Absent, null or all zero when not set (the line is omitted). */
  readonly privateKey?: Uint8Array | null;
  /** The port actually bound; 0 omits the line. */
  readonly listenPort: number;
  /** 0 omits the line. */
  readonly fwmark: number;
  readonly peers: readonly UapiPeerState[];
}

/** Outcome of a set operation: errno 0 on success, else the errno and a log message. */
export type UapiResult = { errno: 0 } | { errno: number; message: string };

const ZERO_KEY_HEX = '0'.repeat(KEY_LEN * 2);

/** Go's strconv.ParseUint(text, 10, n) for max = 2^n - 1: digits only, leading zeros allowed. */
function parseDecimal(text: string, max: number): number | null {
  if (!/^[0-9]+$/.test(text)) return null;
  const v = Number(text);
  return v <= max ? v : null;
}

/**
 * Parses an endpoint exactly as Go's netip.ParseAddrPort does: `a.b.c.d:port`,
 * `[ipv6]:port` or `[ipv6%zone]:port`; null when invalid.
 */
export function parseEndpoint(text: string): UapiEndpoint | null {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return null;
  let host = text.slice(0, colon);
  const port = parseDecimal(text.slice(colon + 1), 0xffff);
  if (port === null) return null;
  const bracketed = host.startsWith('[');
  if (bracketed) {
    if (host.length < 2 || !host.endsWith(']')) return null;
    host = host.slice(1, -1);
  }
  let zone = '';
  const pct = host.indexOf('%');
  if (pct >= 0) {
    zone = host.slice(pct + 1);
    host = host.slice(0, pct);
    // Go: a zone belongs to an IPv6 address and must not be empty.
    if (zone === '' || !host.includes(':')) return null;
  }
  const addr = parseAddr(host);
  if (!addr.ok) return null;
  // IPv6 needs brackets and IPv4 must not have them.
  if ((addr.value.length === 16) !== bracketed) return null;
  return { addr: addr.value, zone, port };
}

/** The endpoint as wireguard-go prints it: `1.2.3.4:51820`, `[fd00::1]:51820`, `[fe80::1%eth0]:5`. */
export function formatEndpoint(ep: UapiEndpoint): string {
  const host = formatAddr(ep.addr);
  if (ep.addr.length === 4) return `${host}:${ep.port}`;
  return `[${host}${ep.zone === '' ? '' : `%${ep.zone}`}]:${ep.port}`;
}

/**
 * Parses an allowed_ip value: `addr/len` (Go's netip.ParsePrefix: no bare address, no zone,
 * length 0 or without a leading zero), optionally preceded by '-' meaning "remove". The returned
 * prefix has its host bits cleared. Null when invalid.
 */
export function parseAllowedIp(text: string): { remove: boolean; prefix: Prefix } | null {
  const remove = text.startsWith('-');
  const body = remove ? text.slice(1) : text;
  const slash = body.lastIndexOf('/');
  if (slash < 0) return null;
  const addr = parseAddr(body.slice(0, slash));
  if (!addr.ok) return null;
  const cidr = parseCidr(body.slice(slash + 1), addr.value.length * 8);
  if (!cidr.ok) return null;
  return { remove, prefix: { addr: maskInPlace(addr.value, cidr.value), cidr: cidr.value } };
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A target failure as a UapiError: its own errno if it is one, else `errno`. */
function asUapiError(e: unknown, errno: number, what: string): UapiError {
  if (e instanceof UapiError) return e;
  return new UapiError(errno, `${what}: ${e instanceof Error ? e.message : String(e)}`);
}

/** Runs a target call; a non-UapiError failure is reported with `errno` and `what`. */
function call<T>(errno: number, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asUapiError(e, errno, what);
  }
}

/** Like call, for a target step that may complete asynchronously. */
function callAwaitable(errno: number, what: string, fn: () => void | Promise<void>): void | Promise<void> {
  const r = call(errno, what, fn);
  if (r instanceof Promise) {
    return r.then(undefined, (e: unknown) => {
      throw asUapiError(e, errno, what);
    });
  }
}

function requireTrue(value: string, what: string): void {
  if (value !== 'true') throw new UapiError(UapiErrno.INVAL, `failed to ${what}, invalid value: ${value}`);
}

/** The state of one set operation: which section we are in and which peer lines apply to. */
class SetOperation {
  /** False until the first public_key line: lines before it are device keys. */
  private inPeers = false;
  /** The selected peer, or null for the placeholder (own key, removed, update_only). */
  private peer: UapiPeer | null = null;
  private publicKey: Uint8Array | null = null;
  private created = false;
  private keepaliveTurnedOn = false;

  constructor(private readonly target: UapiTarget) {}

  /** Applies one line; returns a promise only when the target step it ran is asynchronous. */
  line(line: string): void | Promise<void> {
    const eq = line.indexOf('=');
    if (eq < 0) throw new UapiError(UapiErrno.PROTO, `failed to parse line ${JSON.stringify(line)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      this.endPeer();
      this.selectPeer(value);
    } else if (this.inPeers) {
      this.peerLine(key, value);
    } else {
      return this.deviceLine(key, value);
    }
  }

  /** Ends the current peer block (the next public_key line, the empty line or end of input). */
  endPeer(): void {
    const peer = this.peer;
    if (peer === null) return;
    this.peer = null;
    const info = { created: this.created, keepaliveTurnedOn: this.keepaliveTurnedOn };
    call(UapiErrno.IO, 'failed to start peer', () => this.target.peerConfigured(peer, info));
  }

  private selectPeer(value: string): void {
    this.inPeers = true;
    this.created = false;
    this.keepaliveTurnedOn = false;
    const key = keyFromHex(value);
    if (key === null) throw new UapiError(UapiErrno.INVAL, 'failed to get peer by public key: invalid hex key');
    this.publicKey = key;
    const own = this.target.ownPublicKey();
    if (own !== null && sameKey(own, key)) return; // the device itself: placeholder
    const found = this.target.findPeer(key);
    if (found !== undefined) {
      this.peer = found;
      return;
    }
    this.peer = call(UapiErrno.INVAL, 'failed to create new peer', () => this.target.createPeer(key));
    this.created = true;
  }

  private deviceLine(key: string, value: string): void | Promise<void> {
    const t = this.target;
    switch (key) {
      case 'private_key': {
        const k = keyFromHex(value);
        if (k === null) throw new UapiError(UapiErrno.INVAL, 'failed to set private_key: invalid hex key');
        try {
          call(UapiErrno.IO, 'failed to set private_key', () => t.setPrivateKey(isAllZero(k) ? null : clampPrivateKey(k)));
        } finally {
          k.fill(0); // the target keeps its own copy
        }
        return;
      }
      case 'listen_port': {
        const port = parseDecimal(value, 0xffff);
        if (port === null) throw new UapiError(UapiErrno.INVAL, `failed to parse listen_port: ${JSON.stringify(value)}`);
        return callAwaitable(UapiErrno.ADDRINUSE, 'failed to set listen_port', () => t.setListenPort(port));
      }
      case 'fwmark': {
        const mark = parseDecimal(value, 0xffffffff);
        if (mark === null) throw new UapiError(UapiErrno.INVAL, `invalid fwmark: ${JSON.stringify(value)}`);
        return callAwaitable(UapiErrno.ADDRINUSE, 'failed to update fwmark', () => t.setFwmark(mark));
      }
      case 'replace_peers':
        requireTrue(value, 'set replace_peers');
        call(UapiErrno.IO, 'failed to remove peers', () => t.removeAllPeers());
        return;
      default:
        throw new UapiError(UapiErrno.INVAL, `invalid UAPI device key: ${key}`);
    }
  }

  private peerLine(key: string, value: string): void {
    const peer = this.peer;
    switch (key) {
      case 'update_only':
        requireTrue(value, 'set update only');
        if (this.created && peer !== null) this.dropPeer();
        return;
      case 'remove':
        requireTrue(value, 'set remove');
        if (peer !== null) this.dropPeer();
        return;
      case 'preshared_key': {
        const k = keyFromHex(value);
        if (k === null) throw new UapiError(UapiErrno.INVAL, 'failed to set preshared key: invalid hex key');
        try {
          if (peer !== null) call(UapiErrno.IO, 'failed to set preshared key', () => peer.setPresharedKey(isAllZero(k) ? null : k));
        } finally {
          k.fill(0); // the peer keeps its own copy
        }
        return;
      }
      case 'endpoint': {
        const ep = parseEndpoint(value);
        if (ep === null) throw new UapiError(UapiErrno.INVAL, `failed to set endpoint ${value}`);
        if (peer !== null) call(UapiErrno.IO, 'failed to set endpoint', () => peer.setEndpoint(ep));
        return;
      }
      case 'persistent_keepalive_interval': {
        const secs = parseDecimal(value, 0xffff);
        if (secs === null) throw new UapiError(UapiErrno.INVAL, `failed to set persistent keepalive interval: ${JSON.stringify(value)}`);
        if (peer !== null) {
          const old = call(UapiErrno.IO, 'failed to set persistent keepalive interval', () => peer.setPersistentKeepaliveInterval(secs));
          this.keepaliveTurnedOn = old === 0 && secs !== 0;
        }
        return;
      }
      case 'replace_allowed_ips':
        requireTrue(value, 'replace allowedips');
        if (peer !== null) call(UapiErrno.IO, 'failed to replace allowedips', () => peer.removeAllAllowedIps());
        return;
      case 'allowed_ip': {
        const a = parseAllowedIp(value);
        if (a === null) throw new UapiError(UapiErrno.INVAL, `failed to set allowed ip: ${JSON.stringify(value)}`);
        if (peer !== null) {
          call(UapiErrno.IO, 'failed to set allowed ip', () => (a.remove ? peer.removeAllowedIp(a.prefix) : peer.addAllowedIp(a.prefix)));
        }
        return;
      }
      case 'protocol_version':
        if (value !== '1') throw new UapiError(UapiErrno.INVAL, `invalid protocol version: ${value}`);
        return;
      default:
        throw new UapiError(UapiErrno.INVAL, `invalid UAPI peer key: ${key}`);
    }
  }

  /** Removes the selected peer from the device; the rest of its block goes to the placeholder. */
  private dropPeer(): void {
    const key = this.publicKey as Uint8Array;
    this.peer = null;
    call(UapiErrno.IO, 'failed to remove peer', () => this.target.removePeer(key));
  }
}

/**
 * Applies the lines of a set=1 body, in order, to `target`. `lines` exclude the terminating empty
 * line, their '\n' and one trailing '\r'. `readError`, when given, says the input failed after
 * these lines (line too long, request too large): like wireguard-go, the lines before it stay
 * applied and the result is EIO. When no target step returns a promise, the whole body is applied
 * synchronously, before this function returns.
 */
export async function applySetLines(lines: Iterable<string>, target: UapiTarget, readError?: string): Promise<UapiResult> {
  const op = new SetOperation(target);
  try {
    for (const line of lines) {
      const pending = op.line(line);
      if (pending) await pending;
    }
    op.endPeer();
  } catch (e) {
    if (e instanceof UapiError) return { errno: e.errno, message: e.message };
    return { errno: UapiErrno.IO, message: `other UAPI error: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    target.setDone?.();
  }
  if (readError !== undefined) return { errno: UapiErrno.IO, message: `failed to read input: ${readError}` };
  return { errno: 0 };
}

/**
 * Applies a set=1 body given as text (everything after the `set=1\n` line): lines up to the first
 * empty one; without an empty line, up to the end of the text, the last line possibly unterminated
 * (as wireguard-go reads a stream that ends).
 */
export function applySet(body: string, target: UapiTarget): Promise<UapiResult> {
  const pieces = body.split('\n');
  const last = pieces.pop() as string; // the text after the final '\n' (unterminated)
  const lines: string[] = [];
  let ended = false;
  for (const piece of pieces) {
    const line = stripCR(piece);
    if (line === '') {
      ended = true;
      break;
    }
    lines.push(line);
  }
  if (!ended && last !== '') {
    const line = stripCR(last);
    if (line !== '') lines.push(line);
  }
  return applySetLines(lines, target);
}

/** Drops one trailing '\r' (Go's bufio.ScanLines does so for set=1 body lines). */
export function stripCR(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** The reply line pair for an errno: `errno=N\n\n`. */
export function formatErrno(errno: number): string {
  return `errno=${errno}\n\n`;
}

function hexKey(key: Uint8Array, what: string): string {
  if (key.length !== KEY_LEN) throw new RangeError(`${what} must be ${KEY_LEN} bytes, got ${key.length}`);
  return keyToHex(key);
}

/**
 * The get=1 reply of `target`: its state formatted by formatGet, after which the key copies the
 * state carried (private key, preshared keys) are zeroed. The reply text itself necessarily holds
 * the private key in hex, as the protocol demands; nothing else does.
 */
export function getReply(target: UapiTarget): string {
  const state = target.getState();
  try {
    return formatGet(state);
  } finally {
    state.privateKey?.fill(0);
    for (const p of state.peers) p.presharedKey?.fill(0);
  }
}

/** The complete get=1 reply for a state snapshot, byte-for-byte as wireguard-go writes it. */
export function formatGet(state: UapiState): string {
  let out = '';
  if (state.privateKey && !isAllZero(state.privateKey)) out += `private_key=${hexKey(state.privateKey, 'private key')}\n`;
  if (state.listenPort !== 0) out += `listen_port=${state.listenPort}\n`;
  if (state.fwmark !== 0) out += `fwmark=${state.fwmark}\n`;
  for (const p of state.peers) {
    out += `public_key=${hexKey(p.publicKey, 'public key')}\n`;
    out += `preshared_key=${p.presharedKey ? hexKey(p.presharedKey, 'preshared key') : ZERO_KEY_HEX}\n`;
    out += `protocol_version=${p.protocolVersion}\n`;
    if (p.endpoint) out += `endpoint=${formatEndpoint(p.endpoint)}\n`;
    out += `last_handshake_time_sec=${p.lastHandshakeTimeSec}\n`;
    out += `last_handshake_time_nsec=${p.lastHandshakeTimeNsec}\n`;
    out += `tx_bytes=${p.txBytes}\n`;
    out += `rx_bytes=${p.rxBytes}\n`;
    out += `persistent_keepalive_interval=${p.persistentKeepaliveInterval}\n`;
    for (const a of p.allowedIps) out += `allowed_ip=${a}\n`;
  }
  return out + formatErrno(0);
}
