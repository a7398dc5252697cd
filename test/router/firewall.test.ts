// The per-peer firewall (src/router/firewall.ts over access.ts and flows.ts), both directions, with
// hand-built packets: what a laptop starts comes back, nothing else does; AllowInbound opens exactly
// its ports; ICMP errors and later fragments follow their flow; ids reset, modes, allocation.
import { PerformanceObserver } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAccessRule, type AccessRule } from '../../src/router/access.js';
import { PeerFirewall } from '../../src/router/firewall.js';
import { FLOW_TIMEOUTS_S } from '../../src/router/flows.js';
import { ACK, FIN, GRE, ICMP, ICMPV6, icmpError, packet, reply, RST, SYN, TCP, UDP, type PacketSpec } from '../helpers/packets.js';

const LAPTOP = '10.123.0.2';
const LAPTOP6 = 'fd00:123::2';
const APP = '10.124.0.10';
const DB = '10.124.0.11';
const APP6 = 'fd00:124::10';

function rule(text: string): AccessRule {
  const r = parseAccessRule(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** A firewall with the networks 10.124.0.0/24 and fd00:124::/64, DNS on 10.123.0.1:53, peer 0 in default mode. */
function gateway(): PeerFirewall {
  const fw = new PeerFirewall(1024);
  fw.access.setDefaultRules([rule('10.124.0.0/24'), rule('fd00:124::/64')]);
  fw.access.setExemptions([rule('10.123.0.1:53/udp'), rule('10.123.0.1:53/tcp')]);
  fw.resetPeer(0);
  fw.access.setDefault(0);
  return fw;
}

let clock = 1_000_000;
const out = (fw: PeerFirewall, s: PacketSpec, peer = 0): boolean => { const p = packet(s); return fw.fromPeer(peer, p, 0, p.length, clock); };
const back = (fw: PeerFirewall, s: PacketSpec, peer = 0): boolean => { const p = packet(s); return fw.toPeer(peer, p, 0, p.length, clock); };
const raw = (fw: PeerFirewall, p: Uint8Array, peer = 0): boolean => fw.toPeer(peer, p, 0, p.length, clock);

test('TCP: what the laptop starts comes back; a connection the project starts does not (IPv4 and IPv6)', () => {
  for (const [laptop, app] of [[LAPTOP, APP], [LAPTOP6, APP6]] as const) {
    const fw = gateway();
    const syn: PacketSpec = { src: laptop, dst: app, proto: TCP, sport: 40000, dport: 3000, flags: SYN };
    assert.ok(out(fw, syn), `${laptop}: SYN out`);
    assert.ok(back(fw, reply(syn, { flags: SYN | ACK })), 'SYN-ACK back');
    assert.ok(out(fw, { ...syn, flags: ACK }), 'ACK out');
    assert.ok(back(fw, reply(syn, { flags: ACK })), 'data back');
    assert.not.ok(back(fw, { src: app, dst: laptop, proto: TCP, sport: 40001, dport: 22, flags: SYN }), 'the project opens a connection: refused');
    assert.not.ok(back(fw, reply(syn, { sport: 3001, flags: ACK })), 'another port of the same host');
    assert.not.ok(back(fw, reply(syn, { dport: 40001, flags: ACK })), 'another laptop port');
    assert.is(fw.refusedOf(0), 3);
    assert.is(fw.deniedOf(0), 0);
  }
});

test('UDP and ICMP echo: answers pass, requests from the project do not; other protocols by address', () => {
  const fw = gateway();
  const q: PacketSpec = { src: LAPTOP, dst: DB, proto: UDP, sport: 5353, dport: 9000 };
  assert.ok(out(fw, q));
  assert.ok(back(fw, reply(q)));
  assert.not.ok(back(fw, { src: DB, dst: LAPTOP, proto: UDP, sport: 9000, dport: 5354 }));
  const ping: PacketSpec = { src: LAPTOP, dst: APP, proto: ICMP, icmpType: 8, icmpId: 77 };
  assert.ok(out(fw, ping));
  assert.ok(back(fw, { src: APP, dst: LAPTOP, proto: ICMP, icmpType: 0, icmpId: 77 }), 'echo reply');
  assert.not.ok(back(fw, { src: APP, dst: LAPTOP, proto: ICMP, icmpType: 0, icmpId: 78 }), 'other echo id');
  assert.not.ok(back(fw, { src: APP, dst: LAPTOP, proto: ICMP, icmpType: 8, icmpId: 5 }), 'the project pings the laptop');
  const ping6: PacketSpec = { src: LAPTOP6, dst: APP6, proto: ICMPV6, icmpType: 128, icmpId: 9 };
  assert.ok(out(fw, ping6));
  assert.ok(back(fw, { src: APP6, dst: LAPTOP6, proto: ICMPV6, icmpType: 129, icmpId: 9 }));
  assert.not.ok(back(fw, { src: APP6, dst: LAPTOP6, proto: ICMPV6, icmpType: 128, icmpId: 9 }), 'a request is not an answer');
  const gre: PacketSpec = { src: LAPTOP, dst: APP, proto: GRE };
  assert.not.ok(back(fw, reply(gre)), 'GRE before the laptop sent any');
  assert.ok(out(fw, gre));
  assert.ok(back(fw, reply(gre)), 'GRE back after');
});

test('DNS to the gateway passes and its answers come back; the gateway host itself does not', () => {
  const fw = gateway();
  fw.access.setExcluded([Uint8Array.of(10, 124, 0, 1), Uint8Array.of(10, 123, 0, 1)]);
  const q: PacketSpec = { src: LAPTOP, dst: '10.123.0.1', proto: UDP, sport: 33333, dport: 53 };
  assert.ok(out(fw, q));
  assert.ok(back(fw, reply(q)));
  assert.not.ok(out(fw, { src: LAPTOP, dst: '10.123.0.1', proto: TCP, sport: 1, dport: 22, flags: SYN }), 'sshd on the tunnel address');
  assert.not.ok(out(fw, { src: LAPTOP, dst: '10.124.0.1', proto: TCP, sport: 1, dport: 22, flags: SYN }), 'the host address inside the network');
  assert.not.ok(out(fw, { src: LAPTOP, dst: '192.168.1.1', proto: TCP, sport: 1, dport: 80, flags: SYN }), 'a network that is not a project network');
  assert.is(fw.deniedOf(0), 3);
});

test('AllowInbound opens exactly its ports; the laptop answers even where its rules do not reach', () => {
  const fw = gateway();
  fw.access.setRules(0, [rule('10.124.0.11:5432/tcp')]); // may reach only db:5432
  fw.access.setInbound(0, [{ proto: 'tcp', portLo: 8080, portHi: 8080 }, { proto: 'icmp', portLo: 0, portHi: 65535 }]);
  const syn: PacketSpec = { src: APP, dst: LAPTOP, proto: TCP, sport: 50000, dport: 8080, flags: SYN };
  assert.ok(back(fw, syn), 'the project connects to :8080');
  assert.ok(out(fw, reply(syn, { flags: SYN | ACK })), 'the laptop answers app, which its rules do not reach');
  assert.not.ok(out(fw, { src: LAPTOP, dst: APP, proto: TCP, sport: 8080, dport: 50001, flags: SYN }), 'but cannot start anything to app');
  assert.not.ok(back(fw, { ...syn, dport: 8081 }), ':8081 stays closed');
  assert.not.ok(back(fw, { ...syn, proto: UDP, flags: 0 }), 'udp 8080 stays closed');
  assert.ok(back(fw, { src: APP, dst: LAPTOP, proto: ICMP, icmpType: 8, icmpId: 3 }), 'ping');
  assert.ok(out(fw, { src: LAPTOP, dst: APP, proto: ICMP, icmpType: 0, icmpId: 3 }), 'pong');
});

test('ICMP errors follow the flow they quote; later fragments follow their first', () => {
  const fw = gateway();
  const syn: PacketSpec = { src: LAPTOP, dst: APP, proto: TCP, sport: 40000, dport: 3000, flags: SYN };
  assert.ok(out(fw, syn));
  assert.ok(raw(fw, icmpError('10.124.0.1', syn)), 'fragmentation needed for the laptop\'s flow');
  assert.not.ok(raw(fw, icmpError('10.124.0.1', { ...syn, sport: 40009 })), 'an error quoting a flow the laptop never started');
  const syn6: PacketSpec = { src: LAPTOP6, dst: APP6, proto: TCP, sport: 40000, dport: 3000, flags: SYN };
  assert.ok(out(fw, syn6));
  assert.ok(raw(fw, icmpError('fd00:124::1', syn6)), 'packet too big (IPv6)');
  assert.not.ok(raw(fw, icmpError('fd00:124::1', { ...syn6, dport: 3001 })));

  const q: PacketSpec = { src: LAPTOP, dst: DB, proto: UDP, sport: 5000, dport: 6000 };
  assert.ok(out(fw, q));
  for (const [v, laptop, db] of [[4, LAPTOP, DB], [6, LAPTOP6, 'fd00:124::11']] as const) {
    if (v === 6) assert.ok(out(fw, { ...q, src: laptop, dst: db }));
    const first: PacketSpec = { src: db, dst: laptop, proto: UDP, sport: 6000, dport: 5000, frag: { id: 4242, offset: 0, more: true } };
    assert.not.ok(back(fw, { ...first, frag: { id: 4242, offset: 185, more: false } }), `IPv${v}: a later fragment before its first`);
    assert.ok(back(fw, first), `IPv${v}: first fragment of an answer`);
    assert.ok(back(fw, { ...first, frag: { id: 4242, offset: 185, more: false } }), `IPv${v}: its later fragment`);
    assert.not.ok(back(fw, { ...first, frag: { id: 4243, offset: 185, more: false } }), `IPv${v}: a fragment of another datagram`);
  }
});

test('timeouts like conntrack: UDP 30 s unanswered / 120 s answered, TCP RST 10 s, established days', () => {
  const fw = gateway();
  const q: PacketSpec = { src: LAPTOP, dst: DB, proto: UDP, sport: 1, dport: 2 };
  out(fw, q);
  clock += FLOW_TIMEOUTS_S.udpUnanswered * 1000 + 1;
  assert.not.ok(back(fw, reply(q)), 'unanswered UDP expired after 30 s');
  out(fw, q);
  assert.ok(back(fw, reply(q)));
  clock += 100_000;
  assert.ok(back(fw, reply(q)), 'answered UDP lives 120 s idle');
  clock += FLOW_TIMEOUTS_S.udpAnswered * 1000 + 1;
  assert.not.ok(back(fw, reply(q)));

  const syn: PacketSpec = { src: LAPTOP, dst: APP, proto: TCP, sport: 7, dport: 8, flags: SYN };
  out(fw, syn);
  assert.ok(back(fw, reply(syn, { flags: SYN | ACK })));
  clock += 86_400_000;
  assert.ok(back(fw, reply(syn)), 'established TCP: a day idle is fine');
  out(fw, { ...syn, flags: RST });
  clock += FLOW_TIMEOUTS_S.tcpReset * 1000 + 1;
  assert.not.ok(back(fw, reply(syn)), 'after a RST: gone in 10 s');
  out(fw, syn);
  back(fw, reply(syn, { flags: SYN | ACK }));
  out(fw, { ...syn, flags: FIN | ACK });
  clock += 60_000;
  assert.ok(back(fw, reply(syn, { flags: FIN | ACK })), 'after a FIN: still within 120 s');
  clock += FLOW_TIMEOUTS_S.tcpClosing * 1000 + 1;
  assert.not.ok(back(fw, reply(syn)));
});

test('resetPeer forgets flows and counters; mode none refuses both ways; a tightened rule cuts flows when forgotten', () => {
  const fw = gateway();
  const syn: PacketSpec = { src: LAPTOP, dst: APP, proto: TCP, sport: 1000, dport: 3000, flags: SYN };
  out(fw, syn);
  back(fw, { src: APP, dst: LAPTOP, proto: TCP, sport: 1, dport: 1 });
  assert.is(fw.refusedOf(0), 1);
  fw.resetPeer(0); // id 0 now belongs to another public key
  assert.is(fw.refusedOf(0), 0);
  assert.not.ok(back(fw, reply(syn, { flags: SYN | ACK })), 'the new owner of id 0 inherits no flow');
  out(fw, syn);
  fw.access.setRules(0, [rule('10.124.0.11/32')]);
  assert.ok(out(fw, syn), 'a known flow passes on its cached decision ...');
  fw.forgetFlows(0);
  assert.not.ok(out(fw, syn), '... until the flows of the old rules are forgotten');
  fw.access.clearPeer(0);
  assert.not.ok(out(fw, { src: LAPTOP, dst: '10.124.0.11', proto: UDP, sport: 1, dport: 2 }), 'mode none: nothing out');
  assert.not.ok(back(fw, { src: '10.124.0.11', dst: LAPTOP, proto: UDP, sport: 2, dport: 1 }), 'mode none: nothing back');
});

test('no allocation per packet in either direction (GC count over 4M packets)', async () => {
  const fw = gateway();
  fw.access.setInbound(0, [{ proto: 'tcp', portLo: 8080, portHi: 8080 }]);
  const a = packet({ src: LAPTOP, dst: APP, proto: TCP, sport: 40000, dport: 3000, flags: ACK });
  const b = packet({ src: APP, dst: LAPTOP, proto: TCP, sport: 3000, dport: 40000, flags: ACK });
  const c = packet({ src: APP, dst: LAPTOP, proto: TCP, sport: 3000, dport: 22, flags: SYN });
  const d = packet({ src: LAPTOP6, dst: APP6, proto: UDP, sport: 1, dport: 2 });
  for (let i = 0; i < 20_000; i++) {
    fw.fromPeer(0, a, 0, a.length, clock); fw.toPeer(0, b, 0, b.length, clock); fw.toPeer(0, c, 0, c.length, clock); fw.fromPeer(0, d, 0, d.length, clock);
  }
  await new Promise((r) => setImmediate(r));
  let gcs = 0;
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  obs.observe({ entryTypes: ['gc'] });
  const n = 1_000_000;
  let pass = 0;
  for (let i = 0; i < n; i++) {
    if (fw.fromPeer(0, a, 0, a.length, clock)) pass++;
    if (fw.toPeer(0, b, 0, b.length, clock)) pass++;
    if (fw.toPeer(0, c, 0, c.length, clock)) pass++;
    if (fw.fromPeer(0, d, 0, d.length, clock)) pass++;
  }
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  assert.is(pass, 3 * n);
  // 16 bytes per packet would be 64 MB: hundreds of young-generation collections.
  assert.ok(gcs <= 5, `the firewall allocated: ${gcs} collections`);
});

test.run();
