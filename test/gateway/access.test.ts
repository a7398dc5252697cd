// The gateway's access glue (src/gateway/access.ts): config Allow / AllowInbound strings ->
// policies by public key -> the firewall under device peer ids, following the device's peer events
// (ids are reused, rules are not), with the networks, the gateway host's addresses, the DNS
// exception and per-peer counters; checked with hand-built IPv4/IPv6 packets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PeerConfig } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/parse.js';
import { compileAccess, gatewayAliases, PeerAccess, type CompiledAccess } from '../../src/gateway/access.js';
import { packet, reply, SYN, TCP, UDP, ICMP, type PacketSpec } from '../helpers/packets.js';

const KEY_A = 'E2BQCujzbmiDhCnqzhnXLkrb6MSUu2IoEaK528eMZRI=';
const KEY_B = 'd7Xdk6XjoGcnA9aP259FnsEu9zNC1va9aFzaceEZb3k=';
const KEY_C = 'jtEkQGI7SQ37j0/cSQeOhAuK0oLFw2Q3s2PJ50k/az8=';
const bytes = (k: string): Uint8Array => new Uint8Array(Buffer.from(k, 'base64'));

function peer(publicKey: string, allow: string[], line = 10, allowInbound: string[] = []): PeerConfig {
  return {
    publicKey, allowedIPs: [], allow, allowInbound,
    source: { line, allowLines: allow.map((_, i) => line + 1 + i), allowInboundLines: allowInbound.map((_, i) => line + 1 + allow.length + i) },
  };
}

function compiled(peers: PeerConfig[]): CompiledAccess {
  const r = compileAccess(peers, 'gw0.conf', gatewayAliases(['10.123.0.1', 'fd00::1']));
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.rules;
}

/** A gateway's access: networks 10.124.0.0/24, DNS on 10.123.0.1:53, host addresses 10.124.0.1 and 10.123.0.1. */
function gateway(peers: PeerConfig[]): PeerAccess {
  const a = new PeerAccess(1024);
  a.setNetworks([{ family: 4, address: '10.124.0.0', prefix: 24 }]);
  a.setDnsTargets([{ address: '10.123.0.1', port: 53 }]);
  a.setLocalAddresses(['10.124.0.1', '10.123.0.1', '127.0.0.1']);
  a.setPolicies(compiled(peers));
  return a;
}

const out = (a: PeerAccess, id: number, s: PacketSpec): boolean => { const p = packet(s); return a.filter(id, p, 0, p.length, 1000); };
const back = (a: PeerAccess, id: number, s: PacketSpec): boolean => { const p = packet(s); return a.outboundFilter(id, p, 0, p.length, 1000); };
const tcp = (dst: string, dport: number, src = '10.123.0.2'): PacketSpec => ({ src, dst, proto: TCP, sport: 40000, dport, flags: SYN });

test('compileAccess: Allow and AllowInbound of a parsed file; the gateway alias; bad rules as FILE:LINE', () => {
  const text = `[Interface]\nPrivateKey = EN4an5hpf8oZAKGvsqGpt8EX3Sq0OIdPFpEcL/cFNWI=\nAddress = 10.123.0.1/24\n\n[Peer]\nPublicKey = ${KEY_A}\nAllow = 10.124.0.10:3000/tcp\nAllow = gateway:22/tcp\nAllowInbound = 8080/tcp, icmp\n\n[Peer]\nPublicKey = ${KEY_B}\n`;
  const parsed = parseConfig(text, 'gw0.conf');
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const r = compileAccess(parsed.config.peers, 'gw0.conf', gatewayAliases(['10.123.0.1']));
  assert.ok(r.ok);
  if (!r.ok) return;
  const a = r.rules.get(KEY_A);
  assert.is(a?.rules?.length, 2);
  assert.is(a?.rules?.[1].portLo, 22);
  assert.equal([...(a?.rules?.[1].addr ?? [])], [10, 123, 0, 1], 'gateway = the tunnel address');
  assert.equal(a?.inbound.map((i) => i.proto), ['tcp', 'icmp']);
  assert.is(r.rules.get(KEY_B)?.rules, null, 'no Allow lines: the default (the networks)');
  assert.equal(r.rules.get(KEY_B)?.inbound, []);

  const bad = compileAccess([peer(KEY_A, ['10.124.0.10/32:3000/tcp', '10.124.0.0/33'], 20, ['22/tcp', '22/sctp'])], '/etc/wgts/gw0.conf');
  assert.not.ok(bad.ok);
  if (bad.ok) return;
  assert.is(bad.errors.length, 2);
  assert.match(bad.errors[0], /^\/etc\/wgts\/gw0\.conf:22: access rule "10\.124\.0\.0\/33"/);
  assert.match(bad.errors[1], /^\/etc\/wgts\/gw0\.conf:24: inbound rule "22\/sctp"/);
});

test('default policy: the networks except the gateway host; DNS on the tunnel; nothing else', () => {
  const a = gateway([peer(KEY_A, [])]);
  a.added(0, bytes(KEY_A));
  assert.ok(out(a, 0, tcp('10.124.0.10', 3000)));
  assert.ok(out(a, 0, tcp('10.124.0.11', 5432)));
  assert.ok(out(a, 0, { src: '10.123.0.2', dst: '10.123.0.1', proto: UDP, sport: 1, dport: 53 }), 'DNS');
  assert.not.ok(out(a, 0, tcp('10.123.0.1', 22)), 'sshd on the tunnel address');
  assert.not.ok(out(a, 0, tcp('10.124.0.1', 22)), 'the gateway host inside the project network');
  assert.not.ok(out(a, 0, tcp('10.124.0.1', 9586)), 'the metrics port');
  assert.not.ok(out(a, 0, tcp('192.168.7.1', 80)), 'a network behind the gateway that is not a project network');
  assert.not.ok(out(a, 0, tcp('10.123.0.3', 22)), 'another laptop');
  assert.is(a.deniedOf(KEY_A), 5);
  // A host address that appears later is excluded from then on, also for a flow that already exists.
  assert.ok(out(a, 0, tcp('10.124.0.99', 80)));
  a.setLocalAddresses(['10.124.0.1', '10.123.0.1', '10.124.0.99']);
  assert.not.ok(out(a, 0, tcp('10.124.0.99', 80)));
  // A removed one does not cost the flows of others.
  const keep = tcp('10.124.0.10', 3000);
  assert.ok(out(a, 0, keep));
  a.setLocalAddresses(['10.124.0.1', '10.123.0.1']);
  assert.ok(back(a, 0, reply(keep)), 'the flow survived');
  assert.equal(a.localAddresses, ['10.123.0.1', '10.124.0.1']);
});

test('Allow rules: exactly what they name (the gateway alias included), plus DNS', () => {
  const a = gateway([peer(KEY_B, ['10.124.0.10:3000/tcp', 'gateway:22/tcp', '10.124.0.1/icmp'])]);
  a.added(4, bytes(KEY_B));
  assert.ok(out(a, 4, tcp('10.124.0.10', 3000)));
  assert.not.ok(out(a, 4, tcp('10.124.0.10', 3001)));
  assert.not.ok(out(a, 4, tcp('10.124.0.11', 5432)));
  assert.ok(out(a, 4, tcp('10.123.0.1', 22)), 'gateway:22/tcp');
  assert.not.ok(out(a, 4, tcp('10.123.0.1', 23)));
  assert.ok(out(a, 4, { src: '10.123.0.2', dst: '10.124.0.1', proto: ICMP, icmpType: 8, icmpId: 1 }), 'an explicit rule reaches a host address');
  assert.ok(out(a, 4, { src: '10.123.0.2', dst: '10.123.0.1', proto: TCP, sport: 5, dport: 53 }), 'DNS over TCP');
  assert.is(a.deniedOf(KEY_B), 3);
});

test('the variables service: TCP to its targets for every peer of the file (default or Allow rules), nothing more; gone with [Env]', () => {
  const a = gateway([peer(KEY_A, []), peer(KEY_B, ['10.124.0.10:3000/tcp'])]);
  a.added(0, bytes(KEY_A));
  a.added(1, bytes(KEY_B));
  a.added(2, bytes(KEY_C)); // not in the file
  const env = (id: number, proto = TCP, dst = '10.123.0.1', dport = 5380): boolean => out(a, id, { src: '10.123.0.2', dst, proto, sport: 41000, dport, flags: SYN });
  assert.not.ok(env(0), 'no [Env]: not reachable');
  a.setEnvTargets([{ address: '10.123.0.1', port: 5380 }, { address: 'fd00::1', port: 5380 }]);
  assert.ok(env(0), 'a default peer');
  assert.ok(env(1), 'a peer with Allow rules');
  assert.ok(out(a, 1, { src: 'fd00::2', dst: 'fd00::1', proto: TCP, sport: 41000, dport: 5380, flags: SYN }), 'IPv6');
  assert.not.ok(env(2), 'a peer the file does not hold');
  assert.not.ok(env(0, UDP), 'TCP only');
  assert.not.ok(env(0, TCP, '10.123.0.1', 5381), 'that port only');
  assert.not.ok(env(0, TCP, '10.124.0.1'), 'on the tunnel address only');
  assert.ok(out(a, 0, { src: '10.123.0.2', dst: '10.123.0.1', proto: UDP, sport: 1, dport: 53 }), 'the DNS stays');
  a.setEnvTargets([]);
  assert.not.ok(env(0), '[Env] removed: the flows it let start are forgotten and new ones refused');
});

test('rules belong to the public key: a reused id never inherits rules, flows or counters; unknown keys get nothing', () => {
  const a = gateway([peer(KEY_A, []), peer(KEY_B, ['10.124.0.10:3000/tcp'])]);
  a.added(0, bytes(KEY_A));
  a.added(1, bytes(KEY_B));
  const s = tcp('10.124.0.11', 5432);
  assert.ok(out(a, 0, s));
  assert.ok(back(a, 0, reply(s)));
  assert.not.ok(out(a, 0, tcp('10.124.0.1', 22)));
  // Through UAPI: A removed, B removed, B added again (it gets A's old id 0), C added (id 1).
  a.removed(0);
  a.removed(1);
  assert.not.ok(out(a, 0, s), 'a removed id allows nothing');
  a.added(0, bytes(KEY_B));
  a.added(1, bytes(KEY_C));
  assert.not.ok(back(a, 0, reply(s)), 'B does not inherit the flow A started');
  assert.not.ok(out(a, 0, s), 'B does not inherit A\'s default access to db');
  assert.ok(out(a, 0, tcp('10.124.0.10', 3000)), 'B has its own rule');
  assert.is(a.deniedOf(KEY_B), 1, 'counters start again');
  assert.not.ok(out(a, 1, tcp('10.124.0.10', 3000)), 'C is not in the file: nothing');
  assert.not.ok(out(a, 1, { src: '10.123.0.4', dst: '10.123.0.1', proto: UDP, sport: 1, dport: 53 }), 'not even DNS');
  // The file now holds C: the next setPolicies gives it the default at once.
  a.setPolicies(compiled([peer(KEY_B, ['10.124.0.10:3000/tcp']), peer(KEY_C, [])]));
  assert.ok(out(a, 1, tcp('10.124.0.11', 5432)));
  assert.equal([...a.deniedByPeer()].sort(), [[KEY_B, 1], [KEY_C, 2]].sort());
});

test('setPolicies: a removed key gets nothing at once; a tightened rule forgets the flows it allowed', () => {
  const a = gateway([peer(KEY_A, []), peer(KEY_B, [])]);
  a.added(0, bytes(KEY_A));
  a.added(1, bytes(KEY_B));
  const s = tcp('10.124.0.11', 5432);
  assert.ok(out(a, 0, s));
  assert.ok(out(a, 1, s));
  a.setPolicies(compiled([peer(KEY_B, ['10.124.0.10:3000/tcp'])])); // A removed from the file, B tightened
  assert.not.ok(out(a, 0, s), 'A (still on the device) is cut off before its removal reaches the device');
  assert.not.ok(back(a, 0, reply(s)));
  assert.not.ok(out(a, 1, s), 'B\'s flow to db went with its old rules');
  assert.not.ok(back(a, 1, reply(s)));
  assert.ok(out(a, 1, tcp('10.124.0.10', 3000)));
  // Narrower networks forget the flows of default peers too.
  const c = gateway([peer(KEY_C, [])]);
  c.added(2, bytes(KEY_C));
  assert.ok(out(c, 2, s));
  c.setNetworks([{ family: 4, address: '10.124.0.0', prefix: 29 }]);
  assert.not.ok(out(c, 2, s), '10.124.0.11 left the networks');
});

test('AllowInbound: the project reaches the laptop on exactly those ports; counted when refused', () => {
  const a = gateway([peer(KEY_A, [], 10, ['8080/tcp'])]);
  a.added(0, bytes(KEY_A));
  const inbound: PacketSpec = { src: '10.124.0.10', dst: '10.123.0.2', proto: TCP, sport: 5000, dport: 8080, flags: SYN };
  assert.ok(back(a, 0, inbound));
  assert.not.ok(back(a, 0, { ...inbound, dport: 22 }));
  assert.equal([...a.refusedByPeer()], [[KEY_A, 1]]);
});

test.run();
