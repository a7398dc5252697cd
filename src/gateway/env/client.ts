// The laptop side of project variables (`wgts env FILE`, `wgts run FILE -- CMD`): find the
// gateway's tunnel address in the laptop's client config, make sure the tunnel is up and carries
// that address, and ask the gateway's variables service over it.
//
// The gateway's tunnel address, from FILE (what `wgts peer add` writes, and what a stock client
// has): (1) the first `DNS =` server that a peer's AllowedIPs route into the tunnel, IPv4 first
// (peer add names the gateway's tunnel address there); else (2) the one host prefix (/32, or
// /128 when there is no IPv4 one) among the peers' AllowedIPs (peer add routes the gateway's
// tunnel address as one); else the caller must say it (--gateway).
//
// The tunnel must be up: the kernel's route to that address must go through the interface FILE
// names (`ip route get`), so the request never leaves through another link, whichever of wgts
// up, wg-quick or a stock client brought it up. The answer is checked before it is used: only
// names a laptop accepts (names.ts), string values without NUL bytes.
import { request } from 'node:http';
import { basename } from 'node:path';
import { formatCidr, formatHostPort, parseIP, type Cidr } from '../../config/ip.js';
import type { WgtsConfig } from '../../config/model.js';
import { jsonRows, runCommand, type CommandRunner } from '../netcfg.js';
import { covers } from '../plan.js';
import { nameProblem } from './names.js';
import { ENV_PATH, type EnvAnswer } from './service.js';

/** How long `wgts env` waits for the gateway's answer (ms). */
export const ENV_FETCH_TIMEOUT_MS = 5_000;
/** Largest answer accepted (bytes). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The gateway's tunnel address as found in a client config, and how it was found (for messages). */
export type GatewayAddressResult = { ok: true; address: string; how: string } | { ok: false; error: string };

const hostPrefix = (c: Cidr): boolean => c.prefix === (c.family === 4 ? 32 : 128);

/** The gateway's tunnel address of a client config (see the module comment); `file` names it in errors. */
export function gatewayAddressOf(config: WgtsConfig, file: string): GatewayAddressResult {
  const routed = config.peers.flatMap((p) => p.allowedIPs);
  const inTunnel = (ip: string): boolean => routed.some((c) => covers(c, { family: ip.includes(':') ? 6 : 4, address: ip, prefix: ip.includes(':') ? 128 : 32 }));
  const dns = config.interface.dns.filter(inTunnel);
  const byDns = dns.find((a) => !a.includes(':')) ?? dns[0];
  if (byDns !== undefined) return { ok: true, address: byDns, how: `the DNS server of ${file}, routed into the tunnel` };
  for (const family of [4, 6] as const) {
    const hosts = [...new Set(routed.filter((c) => c.family === family && hostPrefix(c)).map((c) => c.address))];
    if (hosts.length === 1) return { ok: true, address: hosts[0] as string, how: `the one /${family === 4 ? 32 : 128} in the AllowedIPs of ${file}` };
    if (hosts.length > 1) {
      return { ok: false, error: `${file}: cannot tell the gateway's tunnel address: no DNS server of the tunnel, and several host routes (${hosts.join(', ')}); give it with --gateway ADDRESS` };
    }
  }
  return { ok: false, error: `${file}: cannot tell the gateway's tunnel address: no DNS = server inside the AllowedIPs and no /32 or /128 among them (${routed.map(formatCidr).join(', ') || 'none'}); give it with --gateway ADDRESS` };
}

/** The interface a client config file brings up (wg-quick's rule: the file name without .conf). */
export function interfaceOfFile(file: string): string {
  return basename(file).replace(/\.conf$/, '');
}

/**
 * Null when the route to `address` goes through `ifname`, else why not (the tunnel is down, or
 * another route wins), as a message naming the fix.
 */
export async function tunnelProblem(address: string, ifname: string, file: string, run: CommandRunner = runCommand): Promise<string | null> {
  let dev: string | undefined;
  try {
    const rows = jsonRows(await run('ip', ['-j', address.includes(':') ? '-6' : '-4', 'route', 'get', address]));
    const d = rows[0]?.dev;
    dev = typeof d === 'string' ? d : undefined;
  } catch (e) {
    return `no route to the gateway's tunnel address ${address}: ${e instanceof Error ? e.message : String(e)}; bring the tunnel up first (wgts up ${file}, or wg-quick up ${file})`;
  }
  if (dev === ifname) return null;
  return `the tunnel ${ifname} is not up: the route to the gateway's tunnel address ${address} goes ${dev === undefined ? 'nowhere' : `through ${dev}`}; bring it up first (wgts up ${file}, or wg-quick up ${file})`;
}

/** A checked answer of the variables service. */
export interface FetchedEnv {
  peer: string;
  grants: string[];
  vars: Map<string, string>;
  unavailable: string[];
  /** Variables left out (a name a laptop refuses, a value no environment can hold), with why. */
  skipped: string[];
}

/** A failure to get variables, with the message to print. */
export class EnvFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvFetchError';
  }
}

const isStringArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** Checks the JSON of a 200 answer; throws EnvFetchError on a malformed one. */
export function checkAnswer(json: unknown): FetchedEnv {
  const a = json as Partial<EnvAnswer> | null;
  if (a === null || typeof a !== 'object' || typeof a.peer !== 'string' || !isStringArray(a.grants) || !isStringArray(a.unavailable)
    || a.variables === null || typeof a.variables !== 'object' || Array.isArray(a.variables)) {
    throw new EnvFetchError('the gateway\'s answer is not the variables service\'s JSON');
  }
  const vars = new Map<string, string>();
  const skipped: string[] = [];
  for (const [name, value] of Object.entries(a.variables as Record<string, unknown>)) {
    const problem = nameProblem(name) ?? (typeof value !== 'string' ? 'its value is not a string' : value.includes('\0') ? 'its value holds a NUL byte' : null);
    if (problem !== null) skipped.push(`${name.slice(0, 64)}: ${problem}`);
    else vars.set(name, value as string);
  }
  return { peer: a.peer, grants: a.grants, vars, unavailable: a.unavailable, skipped };
}

/** GET the variables from the service at `address`:`port`, through whatever route the kernel has (checked by the caller). */
export function fetchEnv(address: string, port: number, timeoutMs = ENV_FETCH_TIMEOUT_MS): Promise<FetchedEnv> {
  const at = formatHostPort({ host: address, port });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new EnvFetchError(message));
    };
    const timer = setTimeout(() => fail(`no answer from the gateway's variables service at ${at} within ${timeoutMs / 1000} s `
      + '(does the gateway\'s config have an [Env] section? is this laptop still one of its peers?)'), timeoutMs);
    const req = request({ host: address, port, path: ENV_PATH, method: 'GET', headers: { Host: at, Accept: 'application/json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) fail(`the answer of ${at} is larger than ${MAX_ANSWER_BYTES} bytes`);
        else chunks.push(c);
      });
      res.on('error', (e) => fail(`reading the answer of ${at}: ${e.message}`));
      res.on('end', () => {
        if (settled) return;
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          fail(`the answer of ${at} (HTTP ${res.statusCode ?? '?'}) is not JSON`);
          return;
        }
        if (res.statusCode !== 200) {
          const why = json !== null && typeof json === 'object' && typeof (json as { error?: unknown }).error === 'string' ? (json as { error: string }).error : `HTTP ${res.statusCode ?? '?'}`;
          fail(`the gateway refused: ${why}`);
          return;
        }
        try {
          const answer = checkAnswer(json);
          settled = true;
          clearTimeout(timer);
          resolve(answer);
        } catch (e) {
          fail(e instanceof Error ? e.message : String(e));
        }
      });
    });
    req.on('error', (e) => fail(`cannot reach the gateway's variables service at ${at}: ${e.message}`));
    req.end();
  });
}

/** Whether `text` is an IP literal (for --gateway). */
export function isIpLiteral(text: string): boolean {
  return parseIP(text) !== null;
}
