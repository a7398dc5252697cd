// Traffic probes for end-to-end tests: small Node servers in a namespace (TCP banners naming the
// client's address, UDP echo, a UDP sink), and one-shot TCP / UDP clients with short, bounded
// timeouts.
import type { Netns } from './netns.js';
import { waitFor } from './netns.js';

/**
 * TCP servers (banner `NAME:PORT <client address>`) and UDP echo servers on every address of the
 * namespace, both families; resolves once all listen.
 */
const SERVERS = `
const net = require('net'), dgram = require('dgram');
const { name, tcp, udp } = JSON.parse(process.argv[1]);
let todo = tcp.length + 2 * udp.length;
const up = () => { if (--todo === 0) console.log('ready'); };
for (const p of tcp) net.createServer((c) => c.end(name + ':' + p + ' ' + c.remoteAddress + '\\n')).listen({ port: p, host: '::', ipv6Only: false }, up);
for (const p of udp) for (const f of ['udp4', 'udp6']) {
  const s = dgram.createSocket(f === 'udp6' ? { type: 'udp6', ipv6Only: true } : 'udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.bind(p, up);
}`;

export async function startServers(ns: Netns, name: string, tcp: number[], udp: number[] = []): Promise<void> {
  const p = ns.spawn(process.execPath, ['-e', SERVERS, JSON.stringify({ name, tcp, udp })]);
  let said = '';
  p.stdout?.on('data', (d: Buffer) => { said += d.toString(); });
  p.stderr?.on('data', (d: Buffer) => { said += d.toString(); });
  await waitFor(() => said.includes('ready'), 10_000, 25, `${name} servers (${said})`);
}

/** TCP connect from `ns`; the banner, or null when no connection within 1 s. */
export function tcpBanner(ns: Netns, host: string, port: number): string | null {
  const r = ns.tryExec('ncat', ['--recv-only', '-w', '1', host, String(port)], { timeoutMs: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A UDP datagram from `ns` to host:port; the echo, or null when none within 1.5 s. */
export function udpEcho(ns: Netns, host: string, port: number): string | null {
  const script = `const s = require('dgram').createSocket('${host.includes(':') ? 'udp6' : 'udp4'}');
s.on('message', (m) => { console.log(String(m)); process.exit(0); });
s.send('echo-me', ${port}, '${host}');
setTimeout(() => process.exit(1), 1500);`;
  const r = ns.tryExec(process.execPath, ['-e', script], { timeoutMs: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Receives UDP datagrams on addr:port (IPv4) inside ns, so a test can see what reached the stack. */
export function udpSink(ns: Netns, addr: string, port: number): { text: () => string; stop: () => void } {
  const script = `require('node:dgram').createSocket('udp4').on('message', (m) => process.stdout.write(m)).bind(${port}, '${addr}')`;
  const p = ns.spawn(process.execPath, ['-e', script]);
  let got = '';
  p.stdout?.on('data', (d: Buffer) => { got += d.toString(); });
  return { text: () => got, stop: () => { p.kill('SIGKILL'); } };
}

/** One UDP datagram `msg` from `from` (an address of ns) to to:port. */
export function udpSend(ns: Netns, from: string, to: string, port: number, msg: string): void {
  ns.tryExec('ncat', ['-u', '--send-only', '-w', '1', '-s', from, to, String(port)], { input: msg, timeoutMs: 5000 });
}
