// A real resolver for the tests: Debian's dnsmasq inside a test namespace, answering only from the
// records it is given (--no-resolv: it asks nobody else, so no query can leave the namespaces;
// NXDOMAIN for everything else),
// logging every query it receives. It stands in for the resolvers a gateway host uses (a
// systemd-resolved-style stub on 127.0.0.53) and for a platform's internal DNS that resolves bare
// service names (`web`, not `web.zerops`).
import type { ChildProcess } from 'node:child_process';
import { type Netns, waitFor } from '../../../helpers/netns.js';

/** Records of one dnsmasq: `host` name -> address, `cname` alias -> target. */
export interface DnsmasqRecords {
  host?: Record<string, string>;
  cname?: Record<string, string>;
}

/** A running dnsmasq: the queries it logged so far, and a stop switch. */
export interface Dnsmasq {
  readonly address: string;
  /** `name type` of every query received, in order (from --log-queries). */
  queries(): string[];
  stop(): void;
}

/** The name the readiness probe asks (left out of queries()). */
const PROBE = 'wgts-readiness-probe.invalid';

/** Starts dnsmasq in `ns` on `address`:53 with `records`; resolves once it answers. */
export async function startDnsmasq(ns: Netns, address: string, records: DnsmasqRecords): Promise<Dnsmasq> {
  const args = [
    '--keep-in-foreground', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root',
    `--listen-address=${address}`, '--bind-interfaces', '--port=53', '--log-queries', '--log-facility=-',
    // Every other name does not exist (NXDOMAIN), as an authoritative project DNS says; without it
    // dnsmasq, having no upstream, would answer REFUSED.
    '--address=/#/',
    ...Object.entries(records.host ?? {}).map(([name, ip]) => `--host-record=${name},${ip},30`),
    ...Object.entries(records.cname ?? {}).map(([alias, target]) => `--cname=${alias},${target},20`),
  ];
  const child: ChildProcess = ns.spawn('dnsmasq', args);
  let log = '';
  let exited = false;
  child.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  child.on('exit', () => { exited = true; });
  await waitFor(() => {
    if (exited) throw new Error(`dnsmasq on ${address} exited:\n${log}`);
    return ns.tryExec('dig', [`@${address}`, '+time=1', '+tries=1', PROBE], { timeoutMs: 5000 }).stdout.includes('status: NXDOMAIN');
  }, 10_000, 100, `dnsmasq on ${address}`);
  return {
    address,
    queries: () => parseQueries(log).filter((q) => !q.startsWith(`${PROBE} `)),
    stop: () => { if (!exited) child.kill('SIGTERM'); },
  };
}

/** `query[A] web from 127.0.0.1` lines of dnsmasq's log as `web A`. */
function parseQueries(log: string): string[] {
  return [...log.matchAll(/query\[([A-Z0-9]+)\] (\S+) from /g)].map((m) => `${m[2]} ${m[1]}`);
}
