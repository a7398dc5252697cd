// The endpoints a gateway pair shares for failover: where each laptop was last seen (the UDP
// address its packets came from), so that the gateway taking over can start a handshake with every
// laptop at once (`wgts ha kick`) instead of waiting until each laptop's own timers try again.
//
// The file has the format of `wg show IF endpoints` (one `PUBLIC_KEY<TAB>HOST:PORT` per line;
// `(none)` lines, blank lines and `#` comments are skipped), so `wg show gw0 endpoints > FILE`
// writes one too. `wgts up --endpoints-file FILE` keeps one current while it runs: when the
// endpoints it learned change (checked with each status-file refresh, once a second) it merges them
// into FILE (entries of peers it does not know, or has no endpoint for, stay as they were: the
// standby, which has none, never empties the file) and replaces it atomically, mode 0600 (laptops'
// addresses are personal data). Both gateways of a pair name the same FILE on a directory they
// share (or the same path that each host syncs); see README, Failover.
import { readFile } from 'node:fs/promises';
import { keyFromBase64 } from '../../crypto/keys.js';
import { parseEndpoint } from '../../device/endpoint.js';
import { writeFileAtomic } from '../../config/write.js';

/** Public key (base64) → `HOST:PORT` / `[IPv6]:PORT`. */
export type EndpointMap = Map<string, string>;

/** Parses an endpoints file; throws `FILE:LINE: reason` on a malformed line. */
export function parseEndpoints(text: string, file: string): EndpointMap {
  const out: EndpointMap = new Map();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const fields = line.split(/\s+/);
    const [key, endpoint] = fields;
    const where = `${file}:${i + 1}`;
    if (fields.length !== 2 || key === undefined || endpoint === undefined) throw new Error(`${where}: expected PUBLIC_KEY HOST:PORT (as \`wg show IF endpoints\` prints)`);
    if (keyFromBase64(key) === null) throw new Error(`${where}: not a public key: ${key.slice(0, 12)}...`);
    if (endpoint === '(none)') return;
    if (parseEndpoint(endpoint) === null) throw new Error(`${where}: not an IP:PORT endpoint: ${endpoint}`);
    out.set(key, endpoint);
  });
  return out;
}

/** The file text: sorted by key, `KEY\tENDPOINT` lines. */
export function formatEndpoints(map: EndpointMap): string {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, e]) => `${k}\t${e}\n`).join('');
}

/** Reads an endpoints file; an absent file is an empty map. */
export async function readEndpoints(file: string): Promise<EndpointMap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  return parseEndpoints(text, file);
}

/**
 * Keeps FILE current with what a running interface learned: `update(current)` merges the peers
 * with an endpoint into FILE when that set differs from the last one written (one write at a time;
 * a failed write is tried again with the next update).
 */
export class EndpointsExport {
  private written = '';
  private busy = false;
  /** The last error reported (a failing write is retried each update but reported once). */
  private lastError = '';

  constructor(readonly file: string, private readonly reportError: (e: Error) => void) {}

  private onError(e: Error): void {
    if (e.message !== this.lastError) this.reportError(e);
    this.lastError = e.message;
  }

  /** `current`: the interface's peers that have an endpoint now. Resolves when written (or skipped). */
  async update(current: EndpointMap): Promise<boolean> {
    const text = formatEndpoints(current);
    if (text === this.written || current.size === 0 || this.busy) return false;
    this.busy = true;
    try {
      let merged: EndpointMap;
      try {
        merged = await readEndpoints(this.file);
      } catch (e) {
        // A file that does not parse is replaced by what this interface knows (and said so).
        this.onError(new Error(`${e instanceof Error ? e.message : String(e)}; replacing it`));
        merged = new Map();
      }
      for (const [k, e] of current) merged.set(k, e);
      await writeFileAtomic(this.file, formatEndpoints(merged), 0o600);
      this.written = text;
      this.lastError = '';
      return true;
    } catch (e) {
      this.onError(e instanceof Error ? e : new Error(String(e)));
      return false;
    } finally {
      this.busy = false;
    }
  }
}
