// A one-member etcd for tests: Debian's `etcd` started inside a namespace the test made, listening
// on one of that namespace's addresses (its loopback, or a veth address other namespaces reach),
// its data in a temp dir. stop() ends it (SIGTERM) and keeps the data, start() brings the same
// member back on the same address (a registry that was down and returns), remove() stops it and
// deletes the data. Every etcd is stopped and its data removed when the test process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';
import { waitFor } from './netns.js';

/** A running (or stopped) test etcd. */
export interface TestEtcd {
  readonly ns: Netns;
  /** HOST:PORT of its client URL. */
  readonly endpoint: string;
  /** `etcd://HOST:PORT/PREFIX` for wgts. */
  url(prefix: string): string;
  /** etcdctl inside the namespace (v3 API) against this member; stdout, throws on failure. */
  ctl(args: string[]): string;
  /** Its output so far. */
  out(): string;
  running(): boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

const all = new Set<TestEtcd>();
process.on('exit', () => {
  for (const e of all) {
    try { void e.remove(); } catch { /* best effort */ }
  }
});

/** TLS of the client port: the member's certificate and key, and the CA clients must present certificates of (client-cert-auth). */
export interface EtcdTls {
  cert: string;
  key: string;
  ca: string;
  clientCertAuth?: boolean;
}

/**
 * Starts etcd in `ns` on `host` (an address of `ns`: 127.0.0.1 or a veth address), client port
 * `port` and peer port `port + 1`; resolves once it answers `etcdctl endpoint health`. With `tls`
 * the client port speaks TLS (etcdctl is given the CA, and with client-cert-auth the member's
 * certificate as its own).
 */
export async function startEtcd(ns: Netns, host = '127.0.0.1', port = 2379, opts: { tls?: EtcdTls } = {}): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-etcd-'));
  const tls = opts.tls;
  const client = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const tlsArgs = tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, ...(tls.clientCertAuth ? ['--client-cert-auth'] : [])] : [];
  const ctlTls = tls ? ['--cacert', tls.ca, ...(tls.clientCertAuth ? ['--cert', tls.cert, '--key', tls.key] : [])] : [];
  const peer = `http://${host}:${port + 1}`;
  let child: ChildProcess | null = null;
  let exited = true;
  let out = '';
  const ctl = (args: string[]): string => ns.exec('etcdctl', ['--endpoints', client, ...ctlTls, '--dial-timeout', '2s', '--command-timeout', '5s', ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  const e: TestEtcd = {
    ns,
    endpoint: `${host}:${port}`,
    url: (prefix) => `etcd://${host}:${port}/${prefix.replace(/^\/+/, '')}`,
    ctl,
    out: () => out,
    running: () => !exited,
    async start(): Promise<void> {
      if (!exited) return;
      out = '';
      exited = false;
      const c = ns.spawn('etcd', [
        '--name', 'wgts-test', '--data-dir', join(dir, 'data'),
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `wgts-test=${peer}`, '--initial-cluster-state', 'new',
        '--log-level', 'warn', '--logger', 'zap', ...tlsArgs,
      ]);
      child = c;
      c.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
      c.on('exit', () => { exited = true; });
      await waitFor(() => {
        if (exited) throw new Error(`etcd exited:\n${out}`);
        return ns.tryExec('etcdctl', ['--endpoints', client, ...ctlTls, '--dial-timeout', '1s', 'endpoint', 'health'], { env: { ...process.env, ETCDCTL_API: '3' }, timeoutMs: 5000 }).status === 0;
      }, 20_000, 100, `etcd on ${client}`);
    },
    async stop(): Promise<void> {
      if (exited || !child) return;
      child.kill('SIGTERM');
      await waitFor(() => exited, 10_000, 25, 'etcd exits').catch(() => child?.kill('SIGKILL'));
    },
    async remove(): Promise<void> {
      if (!exited) child?.kill('SIGKILL');
      exited = true;
      all.delete(e);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  all.add(e);
  await e.start();
  return e;
}
