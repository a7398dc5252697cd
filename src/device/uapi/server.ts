// The UAPI socket: a UNIX stream socket at /var/run/wireguard/IFNAME.sock through which `wg`
// configures the device, speaking the protocol of ./protocol.ts.
//
// Socket life cycle (like wireguard-go's ipc/uapi_unix.go and uapi_linux.go): the directory is
// created 0755; a socket file nobody listens on (connect fails) is a leftover and is replaced,
// while one that accepts connections belongs to a running daemon and makes listen() fail. The
// socket is bound at its real path with the process umask set to 0177 for the duration of the
// bind, so the kernel creates the file 0600 (wireguard-go: 0700 under umask 077; the same access,
// root only) and there is no moment in which another local user could connect whatever umask the
// daemon inherited; `ss -xlp` and `lsof` show the real path.
// The file is watched: when it is deleted or replaced, 'socket-removed' is emitted once, and the
// daemon is expected to shut down as wireguard-go does. close() removes the file if it is still
// ours (libuv unlinks the path it bound when the handle closes, so a path that names someone
// else's socket by then keeps the handle open, unreferenced and deaf, rather than unlinking it).
// The listening server keeps a permanent 'error' listener: a failed accept (EMFILE, ENFILE,
// ENOBUFS) is logged (at most once a second) and serving goes on; it never kills the daemon.
//
// Per connection, operations run one after another: `get=1\n\n`, `set=1\n<lines>\n\n`. As in
// wireguard-go an unknown operation line closes the connection without a reply, `get=1\n` followed
// by anything but '\n' is answered errno=-22, and a set body is applied when its empty line
// arrives (or when the client ends the stream). Unlike wireguard-go, operations pipelined in one
// write are all answered (wireguard-go's read-ahead swallows what follows a set), and after a
// failed set the rest of its body is skipped up to its empty line rather than read as operations.
// Operations of all connections run one at a time in arrival order (wireguard-go's ipcMutex), so a
// get never sees a set half applied, even while the target binds a port asynchronously; a set body
// is collected before it is queued, so a client that stops half-way through a request holds up
// nobody (wireguard-go holds its ipcMutex while it reads a set body: one half-written request
// blocks every other `wg` command until that client goes away).
// Bounds: a line longer than maxLineBytes or a set body larger than maxSetBytes is answered
// errno=-5 (what wireguard-go answers for a line over 64 KiB, after applying the lines before it)
// and the connection is closed; set bodies being collected on all connections together may hold
// at most maxBufferedBytes (beyond: errno=-12, closed); at most maxConnections connections are
// served at once: at the limit, the connection that has been silent longest makes room for the new
// one (so idle clients cannot lock `wg` out), and when all of them have sent something within the
// last second the new one is refused instead; a connection silent for idleTimeoutMs is closed,
// and a set body it left unfinished is discarded, not applied, and answered errno=-110
// (wireguard-go has no idle limit, no connection limit and no bound on an operation line).

import { EventEmitter } from 'node:events';
import { lstatSync, mkdirSync, unlinkSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { applySetLines, formatErrno, getReply, stripCR, UapiErrno, type UapiResult, type UapiTarget } from './protocol.js';

/** Where wg(8) looks for userspace interfaces on Linux. */
export const DEFAULT_SOCKET_DIR = '/var/run/wireguard';

export interface UapiServerOptions {
  /** Directory of the socket (default /var/run/wireguard; wg only looks there). */
  socketDir?: string;
  /** Longest accepted line, without its '\n' (default 65535, wireguard-go's bufio.Scanner limit). */
  maxLineBytes?: number;
  /** Largest accepted set body in bytes (default 16 MiB). */
  maxSetBytes?: number;
  /** Bytes of set bodies all connections together may hold while collecting them (default 64 MiB). */
  maxBufferedBytes?: number;
  /** Connections served at once; at the limit the longest-silent one is closed for a new one (default 64). */
  maxConnections?: number;
  /** A connection that sends nothing for this long is closed (default 30 000 ms; 0 = never). */
  idleTimeoutMs?: number;
  /** Receives wireguard-go style messages about failed operations. */
  logger?: Logger;
  /** Fallback check interval when the socket file cannot be watched (default 1000 ms). */
  pollIntervalMs?: number;
}

/** Linux interface-name rules (dev_valid_name): 1..15 bytes, not "." or "..", no '/', ':' or space. */
export function isValidInterfaceName(name: string): boolean {
  const len = Buffer.byteLength(name);
  return len >= 1 && len <= 15 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/**
 * 'live' when something accepts a connection on `path`; 'stale' when connecting is refused (a
 * socket nobody listens on, or not a socket at all) or the file vanished; rejects on any other
 * error (a busy or inaccessible socket is not ours to replace).
 */
function probe(path: string): Promise<'live' | 'stale'> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve('live');
    });
    s.once('error', (e) => {
      const code = errorCode(e);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') resolve('stale');
      else reject(e);
    });
  });
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw e;
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if (errorCode(e) !== 'ENOENT') throw e;
  }
}

/** The umask in force while the socket is bound: the file is born 0600 (srw-------). */
const BIND_UMASK = 0o177;

/**
 * Binds and listens on `path` with BIND_UMASK in force. Node binds a pipe synchronously inside
 * listen() (net.Server -> Pipe.bind, no cluster worker here), so the umask covers exactly the
 * bind(2) and is restored before anything else runs.
 */
function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    const previous = process.umask(BIND_UMASK);
    try {
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

/** Set-body bytes held by all connections of one server while they collect them. */
interface Budget {
  used: number;
  readonly max: number;
}

/** Linux errno values a connection answers with beyond the protocol's (negated on the wire). */
const ENOMEM = -12;
const ETIMEDOUT = -110;

/** The events of a UapiServer. */
export interface UapiServer {
  /** Once, when the socket file is deleted or replaced by someone else: time to shut down. */
  on(event: 'socket-removed', listener: () => void): this;
  once(event: 'socket-removed', listener: () => void): this;
}

/**
 * Serves the UAPI protocol for one interface on its socket, applying operations to a UapiTarget.
 * Events: 'socket-removed' () once, when the socket file is deleted or replaced by someone else.
 */
export class UapiServer extends EventEmitter {
  /** Full path of the socket file. */
  readonly path: string;
  private readonly dir: string;
  private readonly maxLineBytes: number;
  private readonly maxSetBytes: number;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly budget: Budget;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger | undefined;
  private server: Server | null = null;
  private identity: Stats | null = null;
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private removed = false;
  /** Last time a server error (failed accept) was logged, and how many were not logged since. */
  private lastErrorLog = -Infinity;
  private quietErrors = 0;
  private readonly connections = new Map<Socket, UapiConnection>();
  /** The tail of the operation chain: operations of all connections run one at a time. */
  private pending: Promise<void> = Promise.resolve();
  private readonly serialize: Serializer = (task) => {
    this.pending = this.pending.then(task).catch((e: unknown) => {
      this.logger?.error(`UAPI: operation failed: ${e instanceof Error ? e.message : String(e)}`);
    });
  };

  constructor(readonly ifname: string, private readonly target: UapiTarget, options: UapiServerOptions = {}) {
    super();
    if (!isValidInterfaceName(ifname)) throw new Error(`invalid interface name ${JSON.stringify(ifname)}`);
    this.dir = options.socketDir ?? DEFAULT_SOCKET_DIR;
    this.path = join(this.dir, `${ifname}.sock`);
    this.maxLineBytes = options.maxLineBytes ?? 65535;
    this.maxSetBytes = options.maxSetBytes ?? 16 * 1024 * 1024;
    this.maxConnections = options.maxConnections ?? 64;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.budget = { used: 0, max: options.maxBufferedBytes ?? 64 * 1024 * 1024 };
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.logger = options.logger;
  }

  /**
   * Creates the socket and starts serving. Replaces a stale socket file; rejects when another
   * process is serving this interface or the socket cannot be created.
   */
  async listen(): Promise<void> {
    if (this.server !== null) throw new Error(`${this.path}: already listening`);
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    if (exists(this.path) && (await probe(this.path)) === 'live') {
      throw new Error(`${this.path}: UAPI socket in use by a running process`);
    }
    // A leftover file at the path: a stale socket (probed above) or not a socket at all.
    removeIfPresent(this.path);
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await listenPrivately(server, this.path);
    // From now on 'error' can only come from accept(): logged, never fatal (EMFILE must not
    // kill the daemon; libuv keeps listening and sheds the pending connection itself).
    server.on('error', (e) => this.serverError(e));
    try {
      this.identity = lstatSync(this.path);
    } catch (e) {
      server.close();
      throw e;
    }
    this.server = server;
    this.removed = false;
    this.watch();
  }

  /**
   * At the connection limit: closes the connection silent for the longest time, if that is more
   * than EVICT_AFTER_SILENT_MS; false when every connection is busy.
   */
  private evictSilent(): boolean {
    let oldest: [Socket, UapiConnection] | null = null;
    for (const entry of this.connections) if (oldest === null || entry[1].lastActive < oldest[1].lastActive) oldest = entry;
    if (oldest === null || performance.now() - oldest[1].lastActive < EVICT_AFTER_SILENT_MS) return false;
    this.logger?.error(`UAPI: ${this.maxConnections} connections open, closing the one silent longest`);
    this.connections.delete(oldest[0]);
    oldest[1].idle(performance.now() - oldest[1].lastActive);
    return true;
  }

  /** A failed accept (EMFILE, ENFILE, ENOBUFS, ...): logged at most once a second. */
  private serverError(e: Error): void {
    const now = performance.now();
    if (now - this.lastErrorLog < 1000) {
      this.quietErrors++;
      return;
    }
    const more = this.quietErrors > 0 ? ` (and ${this.quietErrors} more since the last report)` : '';
    this.lastErrorLog = now;
    this.quietErrors = 0;
    this.logger?.error(`UAPI: accepting a connection failed: ${e.message}${more}`);
  }

  /** Stops serving, closes open connections and removes the socket file if it is still ours. */
  async close(): Promise<void> {
    this.stopWatching();
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const c of this.connections.keys()) c.destroy();
    if (!this.isOurs()) {
      // libuv unlinks the bound path when the handle closes: the path now names another
      // process's socket (or nothing), so the handle stays open but deaf and unreferenced
      // (reachable by no path, released when the process exits, which follows in a daemon).
      server.removeAllListeners('connection');
      server.unref();
      return;
    }
    await new Promise<void>((resolve) => server.close(() => resolve())); // libuv unlinks the file
  }

  /** True when the path still names the socket file this server created. */
  private isOurs(): boolean {
    const id = this.identity;
    if (id === null) return false;
    try {
      const now = lstatSync(this.path);
      return now.ino === id.ino && now.dev === id.dev;
    } catch {
      return false;
    }
  }

  private watch(): void {
    const check = (): void => {
      if (this.removed || this.server === null || this.isOurs()) return;
      this.removed = true;
      this.stopWatching();
      this.emit('socket-removed');
    };
    try {
      // Unlinking the file raises IN_ATTRIB on it (the link count drops) even while it stays bound.
      this.watcher = watch(this.path, { persistent: false }, check);
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
        this.poll(check);
      });
    } catch {
      this.poll(check);
    }
  }

  private poll(check: () => void): void {
    if (this.poller !== null || this.removed) return;
    this.poller = setInterval(check, this.pollIntervalMs);
    this.poller.unref();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
  }

  private accept(socket: Socket): void {
    if (this.connections.size >= this.maxConnections && !this.evictSilent()) {
      this.logger?.error(`UAPI: too many busy connections (${this.maxConnections}), refusing one`);
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    const conn = new UapiConnection(socket, this.target, this.serialize, this.maxLineBytes, this.maxSetBytes, this.budget, this.logger);
    this.connections.set(socket, conn);
    socket.on('close', () => this.connections.delete(socket));
    if (this.idleTimeoutMs > 0) {
      socket.setTimeout(this.idleTimeoutMs);
      socket.on('timeout', () => conn.idle(this.idleTimeoutMs));
    }
  }
}

/** A connection silent for less than this is busy: never evicted for a newcomer (ms). */
const EVICT_AFTER_SILENT_MS = 1000;

/** Runs tasks one at a time in submission order; a task's failure does not stop the next. */
type Serializer = (task: () => void | Promise<void>) => void;

/**
 * One client connection: splits the byte stream into operations and submits each, in order, to
 * the server-wide serializer, which runs operations of all connections one at a time.
 */
class UapiConnection {
  /** Bytes of the current line received so far (its '\n' not yet seen). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** 'op': reading an operation line; 'get': `get=1\n` read, waiting for its '\n'; 'set': in a body. */
  private mode: 'op' | 'get' | 'set' | 'closed' = 'op';
  /** performance.now() of the last bytes received (or of the connection's start). */
  lastActive = performance.now();
  private setLines: string[] = [];
  private setBytes = 0;

  constructor(
    private readonly socket: Socket,
    private readonly target: UapiTarget,
    private readonly serialize: Serializer,
    private readonly maxLineBytes: number,
    private readonly maxSetBytes: number,
    private readonly budget: Budget,
    private readonly logger: Logger | undefined,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.release());
  }

  /**
   * Nothing arrived for `ms`: close. A set body begun and not finished is discarded (a client
   * that stalls half-way must not leave half a configuration behind) and answered -110.
   */
  idle(ms: number): void {
    if (this.mode === 'closed') return;
    if (this.mode === 'set' || this.partialBytes > 0) {
      const what = this.mode === 'set' ? 'set operation' : 'operation line';
      this.logger?.error(`UAPI: ${what} unfinished after ${Math.round(ms)} ms of silence, discarded`);
      if (this.mode === 'set') this.serialize(() => this.reply({ errno: ETIMEDOUT, message: `set operation unfinished after ${ms} ms of silence` }));
    }
    this.close();
  }

  /** Gives the bytes of the set body being collected back to the server-wide budget. */
  private release(): void {
    this.budget.used -= this.setBytes;
    this.setBytes = 0;
  }

  private onData(data: Buffer): void {
    this.lastActive = performance.now();
    let at = 0;
    while (at < data.length && this.mode !== 'closed') {
      if (this.mode === 'get') {
        this.finishGet(data[at] as number);
        at++;
        continue;
      }
      const nl = data.indexOf(0x0a, at);
      const end = nl < 0 ? data.length : nl;
      if (this.partialBytes + (end - at) > this.maxLineBytes) {
        this.lineTooLong();
        return;
      }
      if (nl < 0) {
        this.partial.push(data.subarray(at));
        this.partialBytes += data.length - at;
        return;
      }
      const line = this.takeLine(data.subarray(at, nl));
      at = nl + 1;
      if (this.mode === 'op') this.operation(line);
      else this.setLine(stripCR(line));
    }
  }

  /** The current line: the buffered partial bytes followed by `tail`. */
  private takeLine(tail: Buffer): string {
    if (this.partialBytes === 0) return tail.toString('latin1');
    this.partial.push(tail);
    const line = Buffer.concat(this.partial).toString('latin1');
    this.partial = [];
    this.partialBytes = 0;
    return line;
  }

  private operation(line: string): void {
    if (line === 'get=1') {
      this.mode = 'get';
    } else if (line === 'set=1') {
      this.mode = 'set';
      this.setLines = [];
      this.release();
    } else {
      // The key of a `key=value` line, or 16 characters: a client that starts with
      // `private_key=...` or a bare hex key must not get the key into the log.
      const eq = line.indexOf('=');
      const shown = eq >= 0 ? `${line.slice(0, Math.min(eq, 32))}=…` : line.length > 16 ? `${line.slice(0, 16)}…` : line;
      this.logger?.error(`invalid UAPI operation: ${shown}`);
      this.close();
    }
  }

  private finishGet(byte: number): void {
    this.mode = 'op';
    if (byte !== 0x0a) {
      const message = `trailing character in UAPI get: ${JSON.stringify(String.fromCharCode(byte))}`;
      this.serialize(() => this.reply({ errno: UapiErrno.INVAL, message }));
      return;
    }
    this.serialize(() => {
      let text: string;
      try {
        text = getReply(this.target);
      } catch (e) {
        this.reply({ errno: UapiErrno.IO, message: `failed to read device state: ${e instanceof Error ? e.message : String(e)}` });
        return;
      }
      this.write(text);
    });
  }

  private setLine(line: string): void {
    if (line === '') {
      this.mode = 'op';
      this.applySet();
      return;
    }
    this.setBytes += line.length + 1;
    this.budget.used += line.length + 1;
    if (this.setBytes > this.maxSetBytes) {
      this.applySet(`set body over ${this.maxSetBytes} bytes`);
      this.close();
      return;
    }
    if (this.budget.used > this.budget.max) {
      // Not this request's fault alone: nothing of it is applied, the client may try again.
      this.setLines = [];
      this.serialize(() => this.reply({ errno: ENOMEM, message: `set bodies being received over ${this.budget.max} bytes in all` }));
      this.close();
      return;
    }
    this.setLines.push(line);
  }

  /** Submits the collected set body (see applySetLines for `readError`). */
  private applySet(readError?: string): void {
    const lines = this.setLines;
    this.setLines = [];
    this.release();
    this.serialize(async () => this.reply(await applySetLines(lines, this.target, readError)));
  }

  private lineTooLong(): void {
    if (this.mode === 'set') this.applySet(`line over ${this.maxLineBytes} bytes`);
    else this.logger?.error(`invalid UAPI operation: line over ${this.maxLineBytes} bytes`);
    this.close();
  }

  /** The client ended its side: a pending set body ends here, its unterminated last line included. */
  private onEnd(): void {
    if (this.mode === 'closed') return;
    if (this.mode === 'set') {
      const rest = stripCR(this.takeLine(Buffer.alloc(0)));
      if (rest !== '') this.setLines.push(rest);
      this.applySet();
    }
    this.close();
  }

  private reply(result: UapiResult): void {
    if (result.errno !== 0) this.logger?.error(`IPC error ${result.errno}: ${'message' in result ? result.message : ''}`);
    this.write(formatErrno(result.errno));
  }

  private write(text: string): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(text);
  }

  /** Stops reading now; ends the connection once the replies submitted before are written. */
  private close(): void {
    this.mode = 'closed';
    this.partial = [];
    this.partialBytes = 0;
    this.setLines = [];
    this.release();
    this.serialize(() => {
      this.socket.end(() => this.socket.destroy());
    });
  }
}
