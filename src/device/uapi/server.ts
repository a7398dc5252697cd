// The UAPI socket: a UNIX stream socket at /var/run/wireguard/IFNAME.sock through which `wg`
// configures the device, speaking the protocol of ./protocol.ts.
//
// Socket life cycle (like wireguard-go's ipc/uapi_unix.go and uapi_linux.go): the directory is
// created 0755; a socket file nobody listens on (connect fails) is a leftover and is replaced,
// while one that accepts connections belongs to a running daemon and makes listen() fail. The
// socket is bound under a temporary name, chmod 0600 (wireguard-go creates it 0700 under umask 077:
// the same access, root only) and renamed into place.
// The file is watched: when it is deleted or replaced, 'socket-removed' is emitted once, and the
// daemon is expected to shut down as wireguard-go does. close() removes the file if it is still ours.
//
// Per connection, operations run one after another: `get=1\n\n`, `set=1\n<lines>\n\n`. As in
// wireguard-go an unknown operation line closes the connection without a reply, `get=1\n` followed
// by anything but '\n' is answered errno=-22, and a set body is applied when its empty line
// arrives (or when the client ends the stream). Unlike wireguard-go, operations pipelined in one
// write are all answered (wireguard-go's read-ahead swallows what follows a set), and after a
// failed set the rest of its body is skipped up to its empty line rather than read as operations.
// Operations of all connections run one at a time in arrival order (wireguard-go's ipcMutex), so a
// get never sees a set half applied, even while the target binds a port asynchronously. Bounds: a line longer than maxLineBytes or a set body larger than maxSetBytes is
// answered errno=-5 (what wireguard-go answers for a line over 64 KiB, after applying the lines
// before it) and the connection is closed; at most maxConnections connections are served at once.

import { EventEmitter } from 'node:events';
import { chmodSync, lstatSync, mkdirSync, renameSync, unlinkSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { applySetLines, formatErrno, formatGet, stripCR, UapiErrno, type UapiResult, type UapiTarget } from './protocol.js';

/** Where wg(8) looks for userspace interfaces on Linux. */
export const DEFAULT_SOCKET_DIR = '/var/run/wireguard';

export interface UapiServerOptions {
  /** Directory of the socket (default /var/run/wireguard; wg only looks there). */
  socketDir?: string;
  /** Longest accepted line, without its '\n' (default 65535, wireguard-go's bufio.Scanner limit). */
  maxLineBytes?: number;
  /** Largest accepted set body in bytes (default 16 MiB). */
  maxSetBytes?: number;
  /** Connections served at once; more are closed at once (default 64). */
  maxConnections?: number;
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

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

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
  private readonly pollIntervalMs: number;
  private readonly logger: Logger | undefined;
  private server: Server | null = null;
  private identity: Stats | null = null;
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private removed = false;
  private readonly connections = new Set<Socket>();
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
    // Bind under a temporary name, set the mode, then rename into place: the socket appears
    // atomically with its final permissions, replacing a stale file. It also keeps Node from
    // unlinking the real path on close (Node unlinks the path it bound, whoever owns it by then).
    const temp = join(this.dir, `.${this.ifname}.${process.pid}.tmp`); // not *.sock: wg lists those
    removeIfPresent(temp);
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await listenOn(server, temp);
    try {
      chmodSync(temp, 0o600);
      renameSync(temp, this.path);
      this.identity = lstatSync(this.path);
    } catch (e) {
      server.close();
      throw e;
    }
    this.server = server;
    this.removed = false;
    this.watch();
  }

  /** Stops serving, closes open connections and removes the socket file if it is still ours. */
  async close(): Promise<void> {
    this.stopWatching();
    const server = this.server;
    if (server === null) return;
    this.server = null;
    if (this.isOurs()) removeIfPresent(this.path);
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
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
    if (this.connections.size >= this.maxConnections) {
      this.logger?.error(`UAPI: too many connections (${this.maxConnections}), refusing one`);
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    new UapiConnection(socket, this.target, this.serialize, this.maxLineBytes, this.maxSetBytes, this.logger);
  }
}

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
  private setLines: string[] = [];
  private setBytes = 0;

  constructor(
    private readonly socket: Socket,
    private readonly target: UapiTarget,
    private readonly serialize: Serializer,
    private readonly maxLineBytes: number,
    private readonly maxSetBytes: number,
    private readonly logger: Logger | undefined,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
  }

  private onData(data: Buffer): void {
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
      this.setBytes = 0;
    } else {
      this.logger?.error(`invalid UAPI operation: ${line.slice(0, 64)}`);
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
        text = formatGet(this.target.getState());
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
    if (this.setBytes > this.maxSetBytes) {
      this.applySet(`set body over ${this.maxSetBytes} bytes`);
      this.close();
      return;
    }
    this.setLines.push(line);
  }

  /** Submits the collected set body (see applySetLines for `readError`). */
  private applySet(readError?: string): void {
    const lines = this.setLines;
    this.setLines = [];
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
    this.setLines = [];
    this.serialize(() => {
      this.socket.end(() => this.socket.destroy());
    });
  }
}
