// The gateway's access glue (src/gateway/access.ts): config Allow strings -> AccessTable under
// device peer ids -> Device.inboundFilter, with the DNS exception and per-peer denied counters,
// checked with hand-built IPv4/IPv6 packets.
import { PerformanceObserver } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PeerConfig } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/parse.js';
import { compileAccess, PeerAccess, type CompiledAccess } from '../../src/gateway/access.js';

const KEY_A = 'E2BQCujzbmiDhCnqzhnXLkrb6MSUu2IoEaK528eMZRI=';
const KEY_B = 'd7Xdk6XjoGcnA9aP259FnsEu9zNC1va9aFzaceEZb3k=';
const KEY_C = 'jtEkQGI7SQ37j0/cSQeOhAuK0oLFw2Q3s2PJ50k/az8=';

const TCP = 6;
const UDP = 17;
const ICMP = 1;

function v4(text: string): number[] {
  return text.split('.').map(Number);
}

/** An IPv4 packet src -> dst with a minimal transport header (ports for TCP/UDP), at offset `off` of a larger buffer. */
function ipv4(src: string, dst: string, proto: number, dport = 0, off = 0): { buf: Uint8Array; off: number; len: number } {
  const th = proto === TCP ? 20 : 8;
  const len = 20 + th;
  const buf = new Uint8Array(off + len + 16);
  const p = buf.subarray(off);
  p[0] = 0x45;
  p[2] = len >> 8; p[3] = len & 0xff;
  p[8] = 64; p[9] = proto;
  p.set(v4(src), 12);
  p.set(v4(dst), 16);
  if (proto === TCP || proto === UDP) {
    p[20] = 0xc0; p[21] = 0x00; // source port 49152
    p[22] = dport >> 8; p[23] = dport & 0xff;
  } else {
    p[20] = 8; // echo request
  }
  if (proto === TCP) p[32] = 0x50;
  return { buf, off, len };
}

/** An IPv6 UDP/TCP packet to `dst` (16 bytes given as text groups fd00::N). */
function ipv6(dstLast: number, proto: number, dport: number): { buf: Uint8Array; off: number; len: number } {
  const th = proto === TCP ? 20 : 8;
  const buf = new Uint8Array(40 + th);
  buf[0] = 0x60;
  buf[4] = th >> 8; buf[5] = th & 0xff;
  buf[6] = proto; buf[7] = 64;
  buf[8] = 0xfd; buf[23] = 2; // src fd00::2
  buf[24] = 0xfd; buf[39] = dstLast; // dst fd00::dstLast
  buf[42] = dport >> 8; buf[43] = dport & 0xff;
  return { buf, off: 0, len: buf.length };
}

function peer(publicKey: string, allow: string[], line = 10): PeerConfig {
  return { publicKey, allowedIPs: [], allow, source: { line, allowLines: allow.map((_, i) => line + 1 + i) } };
}

function compiled(peers: PeerConfig[]): CompiledAccess {
  const r = compileAccess(peers, 'gw0.conf');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.rules;
}

const allowed = (a: PeerAccess, id: number, p: { buf: Uint8Array; off: number; len: number }): boolean => a.filter(id, p.buf, p.off, p.len);

test('compileAccess: Allow strings of a parsed file; bad rules reported as FILE:LINE', () => {
  const text = `[Interface]\nPrivateKey = EN4an5hpf8oZAKGvsqGpt8EX3Sq0OIdPFpEcL/cFNWI=\n\n[Peer]\nPublicKey = ${KEY_A}\nAllow = 10.124.0.10:3000/tcp\nAllow = 10.124.0.0/24/icmp\n\n[Peer]\nPublicKey = ${KEY_B}\n`;
  const parsed = parseConfig(text, 'gw0.conf');
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const r = compileAccess(parsed.config.peers, 'gw0.conf');
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.rules.get(KEY_A)?.length, 2);
  assert.is(r.rules.get(KEY_A)?.[0].proto, 'tcp');
  assert.is(r.rules.get(KEY_A)?.[0].portLo, 3000);
  assert.is(r.rules.get(KEY_B), null, 'no Allow lines: no rules (allow all)');

  // A peer built in code can hold a rule the router's grammar rejects: the error names its line.
  const bad = compileAccess([peer(KEY_A, ['10.124.0.10/32:3000/tcp', '10.124.0.0/33'], 20)], '/etc/wgts/gw0.conf');
  assert.not.ok(bad.ok);
  if (bad.ok) return;
  assert.is(bad.errors.length, 1);
  assert.match(bad.errors[0], /^\/etc\/wgts\/gw0\.conf:22: access rule "10\.124\.0\.0\/33"/);
});

test('filter: a peer without rules may send anything; a peer with rules only what matches', () => {
  const a = new PeerAccess();
  a.setDnsTarget({ address: '10.123.0.1', port: 53 });
  const ids = new Map([[KEY_A, 0], [KEY_B, 1]]);
  a.apply(compiled([peer(KEY_A, []), peer(KEY_B, ['10.124.0.10:3000/tcp', '10.124.0.11/32/icmp'])]), (k) => ids.get(k) ?? -1);
  // Unrestricted peer 0.
  assert.ok(allowed(a, 0, ipv4('10.123.0.2', '10.124.0.11', TCP, 5432)));
  assert.ok(allowed(a, 0, ipv4('10.123.0.2', '10.124.0.10', UDP, 9)));
  // Restricted peer 1.
  assert.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.10', TCP, 3000)));
  assert.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.10', TCP, 3000, 37)), 'packet at an odd offset of a slab');
  assert.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.11', ICMP)));
  assert.not.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.10', TCP, 3001)), 'other port');
  assert.not.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.10', UDP, 3000)), 'other protocol');
  assert.not.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.11', TCP, 5432)), 'other host');
  assert.not.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.10', ICMP)), 'icmp only to .11');
  assert.not.ok(a.filter(1, new Uint8Array(10), 0, 10), 'garbage is refused for a restricted peer');
  assert.is(a.deniedOf(KEY_B), 5);
  assert.is(a.deniedOf(KEY_A), 0);
  assert.equal([...a.deniedByPeer()], [[KEY_A, 0], [KEY_B, 5]]);
});

test('filter: DNS to the gateway listener is always allowed (UDP and TCP), nothing else of the gateway', () => {
  const a = new PeerAccess();
  a.setDnsTarget({ address: '10.123.0.1', port: 53 });
  a.apply(compiled([peer(KEY_B, ['10.124.0.10:3000/tcp'])]), () => 3);
  assert.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', UDP, 53)));
  assert.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', TCP, 53)));
  assert.not.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', UDP, 54)), 'other port of the gateway');
  assert.not.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', ICMP)), 'ping of the gateway');
  assert.not.ok(allowed(a, 3, ipv4('10.123.0.3', '10.124.0.10', UDP, 53)), 'DNS elsewhere');
  assert.is(a.deniedOf(KEY_B), 3);
  // A moved listener (ListenDns) moves the exception; clearing it removes it.
  a.setDnsTarget({ address: '10.123.0.1', port: 5353 });
  assert.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', UDP, 5353)));
  assert.not.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', UDP, 53)));
  a.setDnsTarget(null);
  assert.not.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', UDP, 5353)));
  // IPv6 listener.
  a.setDnsTarget({ address: 'fd00::1', port: 53 });
  assert.ok(allowed(a, 3, ipv6(1, UDP, 53)));
  assert.not.ok(allowed(a, 3, ipv6(9, UDP, 53)));
  assert.not.ok(allowed(a, 3, ipv4('10.123.0.3', '10.123.0.1', UDP, 53)), 'IPv4 packet vs IPv6 listener');
});

test('apply: rules follow the device ids; a reused id starts a new denied counter; removed peers are cleared', () => {
  const a = new PeerAccess();
  let ids = new Map([[KEY_A, 0], [KEY_B, 1]]);
  a.apply(compiled([peer(KEY_A, ['10.124.0.10:3000/tcp']), peer(KEY_B, [])]), (k) => ids.get(k) ?? -1);
  assert.not.ok(allowed(a, 0, ipv4('10.123.0.2', '10.124.0.11', TCP, 22)));
  assert.not.ok(allowed(a, 0, ipv4('10.123.0.2', '10.124.0.11', TCP, 22)));
  assert.is(a.deniedOf(KEY_A), 2);
  // KEY_A removed from the device; KEY_C added and given id 0 (the device reuses free ids).
  ids = new Map([[KEY_B, 1], [KEY_C, 0]]);
  a.apply(compiled([peer(KEY_B, ['10.124.0.11/32']), peer(KEY_C, [])]), (k) => ids.get(k) ?? -1);
  assert.is(a.deniedOf(KEY_A), 0, 'gone');
  assert.is(a.deniedOf(KEY_C), 0, 'new owner of id 0 starts at 0');
  assert.ok(allowed(a, 0, ipv4('10.123.0.4', '10.124.0.11', TCP, 22)), 'KEY_C has no rules');
  assert.not.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.10', TCP, 22)), 'KEY_B now restricted');
  assert.ok(allowed(a, 1, ipv4('10.123.0.3', '10.124.0.11', TCP, 22)));
  // A peer the device does not have (idOf -1) is skipped; ids beyond the first array grow it.
  ids = new Map([[KEY_B, 200]]);
  a.apply(compiled([peer(KEY_B, ['10.124.0.11/32']), peer(KEY_C, ['10.0.0.0/8'])]), (k) => ids.get(k) ?? -1);
  assert.not.ok(allowed(a, 200, ipv4('10.123.0.3', '10.124.0.10', TCP, 22)));
  assert.is(a.deniedOf(KEY_B), 1);
  assert.ok(allowed(a, 0, ipv4('10.123.0.4', '10.124.0.10', TCP, 22)), 'id 0 has no peer now: cleared');
  assert.ok(allowed(a, 1, ipv4('10.123.0.4', '10.124.0.10', TCP, 22)), 'id 1 cleared');
});

test('filter cost: no allocation in steady state (no garbage collection while filtering; measured)', async () => {
  const a = new PeerAccess();
  a.setDnsTarget({ address: '10.123.0.1', port: 53 });
  a.apply(compiled([peer(KEY_A, ['10.124.0.10:3000/tcp', '10.124.0.0/24/icmp', '10.125.0.0/16:8000-9000/tcp'])]), () => 0);
  const ok = ipv4('10.123.0.2', '10.125.1.1', TCP, 8500);
  const no = ipv4('10.123.0.2', '10.124.0.11', UDP, 5432);
  const n = 2_000_000;
  for (let i = 0; i < 10_000; i++) { a.filter(0, ok.buf, 0, ok.len); a.filter(0, no.buf, 0, no.len); }
  await new Promise((r) => setImmediate(r));
  let gcs = 0;
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = process.hrtime.bigint();
  let pass = 0;
  for (let i = 0; i < n; i++) {
    if (a.filter(0, ok.buf, 0, ok.len)) pass++;
    if (a.filter(0, no.buf, 0, no.len)) pass++;
  }
  const ns = Number(process.hrtime.bigint() - t0) / (2 * n);
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  console.log(`  access filter: ${ns.toFixed(1)} ns/packet (3 rules), ${gcs} GC(s) over ${2 * n} packets`);
  assert.is(pass, n);
  assert.is(a.deniedOf(KEY_A), n + 10_000);
  // 16 bytes per packet would be 64 MB: hundreds of young-generation collections (measured: 421).
  // A few may come from garbage made before the loop, or from the observer itself.
  assert.ok(gcs <= 5, `the filter allocated: ${gcs} collections`);
});

test.run();
