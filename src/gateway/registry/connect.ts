// The etcd client of a registry location (location.ts): the `etcd3` package (gRPC, v3 API), with
// what protects the connection taken from the environment, never from the command line (where
// `ps` shows it) and never from the URL:
//
//   WGTS_REGISTRY_USER           etcd user (or USER@ in the URL)
//   WGTS_REGISTRY_PASSWORD       its password, or
//   WGTS_REGISTRY_PASSWORD_FILE  a file holding it (systemd LoadCredential=, a 0600 file)
//   WGTS_REGISTRY_CA             PEM file of the CA that signed the members' certificates: TLS on
//   WGTS_REGISTRY_CERT / _KEY    PEM client certificate and key (etcd --client-cert-auth)
//
// Unary calls get a deadline (a command against an unreachable registry fails in seconds with a
// clear message instead of hanging); watch streams have none (they live as long as the gateway).
import { readFileSync } from 'node:fs';
import type { Etcd3, IOptions } from 'etcd3';
import type { RegistryLocation } from './location.js';

/** Deadline of one unary call (ms). */
export const CALL_TIMEOUT_MS = 5000;

/** Whether every member is on this host's loopback (then TLS protects nothing extra). */
export function loopbackOnly(loc: RegistryLocation): boolean {
  return loc.members.every((m) => /^(127\.[0-9.]+|\[::1\]|localhost):/.test(m));
}

/** How the connection to `loc` is protected, for logs and `wgts show` (never the password). */
export function describeProtection(loc: RegistryLocation, env: NodeJS.ProcessEnv = process.env): string {
  const user = loc.user ?? env.WGTS_REGISTRY_USER;
  const tls = env.WGTS_REGISTRY_CA !== undefined ? `TLS${env.WGTS_REGISTRY_CERT !== undefined ? ' with a client certificate' : ''}` : 'no TLS';
  return `${tls}, ${user !== undefined && user !== '' ? `user ${user}` : 'no etcd user'}`;
}

/** A warning when the gateway's private key would cross a network unencrypted, else null. */
export function exposureWarning(loc: RegistryLocation, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.WGTS_REGISTRY_CA !== undefined || loopbackOnly(loc)) return null;
  return `${loc.url} is reached without TLS: the gateway's private key and the peers' preshared keys cross the network in the clear; set WGTS_REGISTRY_CA (and etcd --cert-file/--key-file) to encrypt it`;
}

function readSecretFile(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`${name}=${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The etcd3 options for `loc` (throws when a named file cannot be read, or a password has no user).
 * etcd3 and cockatiel are loaded on first use: they add about 0.25 s to a command's start, which
 * commands on files should not pay.
 */
export async function clientOptions(loc: RegistryLocation, env: NodeJS.ProcessEnv = process.env, timeoutMs = CALL_TIMEOUT_MS): Promise<IOptions> {
  const { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleAll, retry } = await import('cockatiel');
  const user = loc.user ?? (env.WGTS_REGISTRY_USER !== '' ? env.WGTS_REGISTRY_USER : undefined);
  let password = env.WGTS_REGISTRY_PASSWORD;
  if (password === undefined && env.WGTS_REGISTRY_PASSWORD_FILE !== undefined) {
    password = readSecretFile('WGTS_REGISTRY_PASSWORD_FILE', env.WGTS_REGISTRY_PASSWORD_FILE).toString('utf8').replace(/\r?\n$/, '');
  }
  if (password !== undefined && user === undefined) throw new Error(`${loc.url}: a registry password is set but no user (USER@ in the URL or WGTS_REGISTRY_USER)`);
  if (user !== undefined && password === undefined) throw new Error(`${loc.url}: etcd user ${user} needs a password: set WGTS_REGISTRY_PASSWORD or WGTS_REGISTRY_PASSWORD_FILE`);
  const opts: IOptions = {
    hosts: loc.members.map((m) => `${env.WGTS_REGISTRY_CA !== undefined ? 'https' : 'http'}://${m}`),
    dialTimeout: timeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    faultHandling: {
      // A member that failed is tried again after 1 s (the client's default is 5 s: too slow for
      // a gateway catching up after the registry returns).
      host: () => circuitBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleAll, { maxAttempts: 1 }),
      // etcd3 calls next() on this for each reconnection (its type says IBackoff; its default is a factory).
      watchBackoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2000 }).next(),
    },
  };
  if (user !== undefined && password !== undefined) opts.auth = { username: user, password };
  if (env.WGTS_REGISTRY_CA !== undefined) {
    const certChain = env.WGTS_REGISTRY_CERT !== undefined ? readSecretFile('WGTS_REGISTRY_CERT', env.WGTS_REGISTRY_CERT) : undefined;
    const privateKey = env.WGTS_REGISTRY_KEY !== undefined ? readSecretFile('WGTS_REGISTRY_KEY', env.WGTS_REGISTRY_KEY) : undefined;
    if ((certChain === undefined) !== (privateKey === undefined)) throw new Error('WGTS_REGISTRY_CERT and WGTS_REGISTRY_KEY go together');
    opts.credentials = { rootCertificate: readSecretFile('WGTS_REGISTRY_CA', env.WGTS_REGISTRY_CA), ...(certChain && privateKey ? { certChain, privateKey } : {}) };
  }
  return opts;
}

/** A client for `loc`; close() it when done (it holds gRPC channels that keep the process alive). */
export async function connect(loc: RegistryLocation, env: NodeJS.ProcessEnv = process.env, timeoutMs = CALL_TIMEOUT_MS): Promise<Etcd3> {
  const options = await clientOptions(loc, env, timeoutMs);
  const { Etcd3: Client } = await import('etcd3');
  return new Client(options);
}

/** An etcd client error as one line for people ("etcd://h:2379/p: unreachable (...)"). */
export function registryError(loc: RegistryLocation, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  const unreachable = /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|No connection established|Deadline exceeded|14 |4 /.test(msg);
  return new Error(unreachable ? `${loc.url}: the registry is unreachable (${msg.split('\n')[0]})` : `${loc.url}: ${msg.split('\n')[0]}`);
}

/** Why a running gateway finds the registry unreachable, short (for its log and `wgts show`). */
export function unreachableReason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}
