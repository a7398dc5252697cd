// The small HTTP servers of a gateway (Prometheus metrics, project variables) share their
// defences: few connections, a deadline for the request head and for the whole request, idle
// connections closed, a bounded head, no request bodies, and binding to exactly one address.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';

/** The bounds of one server. */
export interface HttpLimits {
  /** Concurrent connections accepted. */
  readonly maxConnections: number;
  /** Time a client has to send its request headers / whole request (ms). */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** An idle or stalled connection is closed after this long (ms). */
  readonly socketTimeoutMs: number;
  /** Largest request head accepted (bytes). */
  readonly maxHeaderBytes: number;
}

/** How often node checks the two request deadlines (its default, 30 s, would let a stalled client stay 35 s). */
const TIMEOUT_CHECK_MS = 1_000;

/** A node:http server with `limits` applied (not yet listening). */
export function boundedServer(limits: HttpLimits, handler: RequestListener): Server {
  const server = createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  }, handler);
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.socketTimeoutMs, (socket) => socket.destroy());
  return server;
}

/** Listens on exactly `host`:`port` (an IP literal); resolves with the bound port, rejects when it cannot bind. */
export async function listenExactly(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return bound !== null && typeof bound === 'object' ? bound.port : port;
}

/** Stops listening and closes open connections; resolves once the server is closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Whether a request announces a body (Content-Length other than 0, or any Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Sends a complete response: `text` with its length and type (plain text unless `headers` say otherwise). */
export function reply(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}
