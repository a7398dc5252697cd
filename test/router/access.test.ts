import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  AccessTable, formatAccessRule, formatInboundRule, MODE_DEFAULT, MODE_NONE, MODE_RULES, parseAccessRule, parseAccessRules,
  parseInboundRule, ruleAlias, type AccessRule,
} from '../../src/router/access.js';
import { formatAddr } from '../../src/router/prefix.js';

function rule(text: string): AccessRule {
  const r = parseAccessRule(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** [address, length, proto, lo, hi] of a parsed rule, for compact comparisons. */
function fields(text: string): [string, number, string, number, number] {
  const r = rule(text);
  return [formatAddr(r.addr), r.cidr, r.proto, r.portLo, r.portHi];
}

test('grammar: the documented forms', () => {
  assert.equal(fields('10.124.0.10/32:3000/tcp'), ['10.124.0.10', 32, 'tcp', 3000, 3000]);
  assert.equal(fields('10.124.0.0/24'), ['10.124.0.0', 24, 'any', 0, 65535]);
  assert.equal(fields('10.124.0.10:5432/tcp'), ['10.124.0.10', 32, 'tcp', 5432, 5432]);
  assert.equal(fields('10.124.0.10'), ['10.124.0.10', 32, 'any', 0, 65535]);
  assert.equal(fields('10.124.0.0/16/udp'), ['10.124.0.0', 16, 'udp', 0, 65535]);
  assert.equal(fields('10.124.0.0/16:53'), ['10.124.0.0', 16, 'any', 53, 53]);
  assert.equal(fields('10.124.0.9/24/ICMP'), ['10.124.0.0', 24, 'icmp', 0, 65535], 'host bits cleared, case-insensitive');
  assert.equal(fields('10.124.0.10/tcp'), ['10.124.0.10', 32, 'tcp', 0, 65535]);
  assert.equal(fields('fd00::1/128:80-90/tcp'), ['fd00::1', 128, 'tcp', 80, 90]);
  assert.equal(fields('[fd00::1]/128:80/tcp'), ['fd00::1', 128, 'tcp', 80, 80]);
  assert.equal(fields('[fd00::1]:80/tcp'), ['fd00::1', 128, 'tcp', 80, 80]);
  assert.equal(fields('[fd00::]/64'), ['fd00::', 64, 'any', 0, 65535]);
  assert.equal(fields('fd00::/64/udp'), ['fd00::', 64, 'udp', 0, 65535]);
  assert.equal(fields('fd00::1:80'), ['fd00::1:80', 128, 'any', 0, 65535], 'bare IPv6: the colon is the address');
  assert.equal(fields('fd00::/8/icmp'), ['fd00::', 8, 'icmp', 0, 65535]);
  assert.equal(fields('0.0.0.0/0:0-65535'), ['0.0.0.0', 0, 'any', 0, 65535]);
});

test('grammar: errors name the bad token', () => {
  const cases: [string, string][] = [
    ['10.124.0.0/33', '"33"'],
    ['10.124.0.256/24', '"256"'],
    ['10.124.0.10:70000/tcp', '"70000"'],
    ['10.124.0.10:90-80/tcp', '"90-80"'],
    ['10.124.0.10:1-2-3', '"1-2-3"'],
    ['10.124.0.10:080', '"080"'],
    ['10.124.0.10:/tcp', 'empty port'],
    ['10.124.0.0/24:', 'empty port'],
    ['10.124.0.10:80/sctp', '"sctp"'],
    ['10.124.0.10:8/icmp', '"8"'],
    ['[fd00::1:80/tcp', 'missing "]"'],
    ['[10.0.0.1]:80', '"10.0.0.1"'],
    ['[fd00::1]x', '"x"'],
    ['fd00::/64:http/tcp', '"http"'],
    ['10.124.0.0/24/', '"24/"'],
    ['', '""'],
  ];
  for (const [text, mention] of cases) {
    const r = parseAccessRule(text);
    assert.is(r.ok, false, text);
    if (!r.ok) {
      assert.ok(r.error.includes(`"${text}"`), r.error);
      assert.ok(r.error.includes(mention), `${text}: "${r.error}" should mention ${mention}`);
    }
  }
});

test('formatAccessRule: canonical text that parses back to the same rule', () => {
  for (const [text, canonical] of [
    ['10.124.0.10:5432/tcp', '10.124.0.10/32:5432/tcp'],
    ['10.124.0.0/24', '10.124.0.0/24'],
    ['10.124.0.0/16:53-54', '10.124.0.0/16:53-54'],
    ['10.124.0.7/24/icmp', '10.124.0.0/24/icmp'],
    ['[fd00::1]:80/tcp', '[fd00::1]/128:80/tcp'],
    ['fd00::/64/udp', 'fd00::/64/udp'],
  ]) {
    assert.is(formatAccessRule(rule(text)), canonical, text);
    assert.equal(rule(canonical), rule(text), `round trip ${canonical}`);
  }
});

// Packets: dst 10.124.0.10 (or fd00::10), with the protocol and destination port given.

function v4(proto: number, dport: number, dst = [10, 124, 0, 10]): Uint8Array {
  const body = proto === 6 ? 20 : 8;
  const p = new Uint8Array(20 + body);
  p.set([0x45, 0, 0, 20 + body, 0, 0, 0, 0, 64, proto, 0, 0, 10, 124, 0, 99, ...dst]);
  if (proto === 1) p[20] = 8; // echo request
  else {
    p[22] = dport >> 8;
    p[23] = dport & 0xff;
  }
  return p;
}

function v6(next: number, dport: number, lastByte = 0x10): Uint8Array {
  const body = next === 6 ? 20 : 8;
  const p = new Uint8Array(40 + body);
  p.set([0x60, 0, 0, 0, 0, body, next, 64]);
  p[8] = 0xfd; // source fd00::99
  p[23] = 0x99;
  p[24] = 0xfd; // destination fd00::<lastByte>
  p[39] = lastByte;
  if (next === 58) p[40] = 128;
  else {
    p[42] = dport >> 8;
    p[43] = dport & 0xff;
  }
  return p;
}

function allowed(t: AccessTable, peer: number, pkt: Uint8Array): boolean {
  return t.allowsPacket(peer, pkt, 0, pkt.length);
}

test('modes: never set = nothing; rules (empty = exemptions only); default = networks minus excluded; clearPeer = nothing', () => {
  const t = new AccessTable();
  t.setExemptions([rule('10.123.0.1:53/udp')]);
  t.setDefaultRules([rule('10.124.0.0/24'), rule('fd00::/64')]);
  const dns = v4(17, 53, [10, 123, 0, 1]);
  assert.is(t.modeOf(3), MODE_NONE);
  assert.is(allowed(t, 3, v4(6, 22)), false, 'a peer never set reaches nothing');
  assert.is(allowed(t, 3, dns), false, 'not even the exemptions');
  t.setRules(3, []);
  assert.is(t.modeOf(3), MODE_RULES);
  assert.is(allowed(t, 3, v4(6, 22)), false);
  assert.ok(allowed(t, 3, dns), 'exemptions hold for rules mode');
  t.setDefault(2);
  assert.is(t.modeOf(2), MODE_DEFAULT);
  assert.ok(allowed(t, 2, v4(6, 22)), 'default: the networks');
  assert.ok(allowed(t, 2, v6(6, 22)), 'IPv6 network');
  assert.is(allowed(t, 2, v4(6, 22, [10, 125, 0, 1])), false, 'not other networks');
  assert.ok(allowed(t, 2, dns), 'exemptions hold for default mode');
  t.setExcluded([Uint8Array.of(10, 124, 0, 10), Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10)]);
  assert.is(allowed(t, 2, v4(6, 22)), false, 'an excluded (gateway host) address inside a network');
  assert.is(allowed(t, 2, v6(6, 22)), false, 'an excluded IPv6 address');
  assert.ok(allowed(t, 2, v4(6, 22, [10, 124, 0, 11])), 'the rest of the network');
  assert.ok(allowed(t, 2, v6(6, 22, 0x11)));
  t.setRules(4, [rule('10.124.0.10:22/tcp')]);
  assert.ok(allowed(t, 4, v4(6, 22)), 'an explicit rule reaches an excluded address');
  t.setExcluded([Uint8Array.of(10, 123, 0, 1)]);
  assert.ok(allowed(t, 2, dns), 'the exemption wins over the exclusion');
  t.clearPeer(2);
  assert.is(t.modeOf(2), MODE_NONE);
  assert.is(allowed(t, 2, v4(6, 22, [10, 124, 0, 11])), false);
  t.clearPeer(1000); // never set: no effect, no error
  assert.is(allowed(t, 3, new Uint8Array(3)), false, 'garbage is refused');
});

test('inbound rules: ports by protocol, icmp = echo requests, none for peers in mode none', () => {
  const t = new AccessTable();
  t.setDefault(1);
  assert.is(t.allowsInbound(1, 6, 22, false), false, 'no inbound rules: nothing');
  t.setInbound(1, ['8080/tcp', '5000-5010', 'icmp'].map((x) => {
    const r = parseInboundRule(x);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  }));
  assert.ok(t.allowsInbound(1, 6, 8080, false));
  assert.is(t.allowsInbound(1, 17, 8080, false), false, 'udp to a tcp rule');
  assert.ok(t.allowsInbound(1, 17, 5005, false));
  assert.ok(t.allowsInbound(1, 6, 5010, false));
  assert.is(t.allowsInbound(1, 6, 5011, false), false);
  assert.ok(t.allowsInbound(1, 1, -1, true), 'echo request');
  assert.is(t.allowsInbound(1, 1, -1, false), false, 'other icmp');
  assert.is(t.allowsInbound(1, 47, -1, false), false, 'other protocols');
  t.setInbound(1, []);
  assert.is(t.allowsInbound(1, 6, 8080, false), false);
  t.setInbound(2, [{ proto: 'tcp', portLo: 1, portHi: 2 }]);
  assert.is(t.allowsInbound(2, 6, 1, false), false, 'peer 2 is in mode none');
  assert.throws(() => t.setInbound(2, [{ proto: 'tcp', portLo: 3, portHi: 2 }]), RangeError);
  for (const [text, canonical] of [['80', '80'], ['80-90/UDP', '80-90/udp'], ['ICMP', 'icmp'], ['22/tcp', '22/tcp']]) {
    const r = parseInboundRule(text);
    assert.ok(r.ok, text);
    if (r.ok) assert.is(formatInboundRule(r.value), canonical);
  }
  for (const bad of ['', '0x10', '70000', '90-80', '22/sctp', '22/icmp', 'tcp', '22-']) {
    const r = parseInboundRule(bad);
    assert.not.ok(r.ok, bad);
    if (!r.ok) assert.ok(r.error.includes(`"${bad}"`), r.error);
  }
});

test('aliases: gateway[:ports][/proto] stands for each of its addresses; IPv6 text is never an alias', () => {
  const aliases = new Map([['gateway', [Uint8Array.of(10, 123, 0, 1), Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)]]]);
  const r = parseAccessRules('gateway:22/tcp', aliases);
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.value.map(formatAccessRule), ['10.123.0.1/32:22/tcp', '[fd00::1]/128:22/tcp']);
  const g = parseAccessRules('Gateway/icmp', aliases);
  assert.ok(g.ok);
  if (g.ok) assert.equal(g.value.map(formatAccessRule), ['10.123.0.1/32/icmp', 'fd00::1/128/icmp']);
  const plain = parseAccessRules('10.124.0.0/24', aliases);
  assert.ok(plain.ok && plain.value.length === 1);
  const unknown = parseAccessRules('db:5432/tcp', aliases);
  assert.not.ok(unknown.ok);
  if (!unknown.ok) assert.match(unknown.error, 'unknown name "db" (gateway or an address)');
  const badPort = parseAccessRules('gateway:99999/tcp', aliases);
  assert.not.ok(badPort.ok);
  if (!badPort.ok) assert.match(badPort.error, /^access rule "gateway:99999\/tcp": bad port "99999"/);
  for (const v6 of ['fd00::1', 'fd00::/64', 'abc:1::/64:80/tcp', 'beef', '[fd00::1]:22/tcp']) assert.is(ruleAlias(v6), null, v6);
});

test('rules by network, protocol and port range', () => {
  const t = new AccessTable();
  t.setRules(1, ['10.124.0.10/32:3000/tcp', '10.124.0.0/24:53/udp', '10.124.0.0/24/icmp', '10.124.1.0/24:8000-8100'].map(rule));
  assert.ok(allowed(t, 1, v4(6, 3000)));
  assert.is(allowed(t, 1, v4(6, 3001)), false, 'other port');
  assert.is(allowed(t, 1, v4(17, 3000)), false, 'udp to a tcp rule');
  assert.is(allowed(t, 1, v4(6, 3000, [10, 124, 0, 11])), false, 'other host');
  assert.ok(allowed(t, 1, v4(17, 53, [10, 124, 0, 200])));
  assert.is(allowed(t, 1, v4(6, 53, [10, 124, 0, 200])), false);
  assert.ok(allowed(t, 1, v4(1, 0, [10, 124, 0, 1])), 'icmp to the /24');
  assert.is(allowed(t, 1, v4(1, 0, [10, 124, 2, 1])), false, 'icmp outside');
  // proto any with ports: TCP or UDP in range, nothing else.
  assert.ok(allowed(t, 1, v4(6, 8000, [10, 124, 1, 5])));
  assert.ok(allowed(t, 1, v4(17, 8100, [10, 124, 1, 5])));
  assert.is(allowed(t, 1, v4(17, 8101, [10, 124, 1, 5])), false);
  assert.is(allowed(t, 1, v4(1, 0, [10, 124, 1, 5])), false, 'icmp has no port');
  assert.is(allowed(t, 1, new Uint8Array(20)), false, 'invalid packet refused when rules exist');
  assert.is(allowed(t, 1, v6(6, 3000)), false, 'IPv6 against IPv4-only rules');
});

test('IPv6 rules; ICMP rule means ICMPv6 on an IPv6 network', () => {
  const t = new AccessTable();
  t.setRules(0, ['[fd00::10]:443/tcp', 'fd00::/120/icmp', '10.0.0.0/8'].map(rule));
  assert.ok(allowed(t, 0, v6(6, 443)));
  assert.is(allowed(t, 0, v6(6, 80)), false);
  assert.is(allowed(t, 0, v6(6, 443, 0x11)), false, 'other host');
  assert.ok(allowed(t, 0, v6(58, 0, 0x42)), 'ICMPv6 inside fd00::/120');
  assert.is(allowed(t, 0, v6(1, 0, 0x42)), false, 'ICMP(v4) number inside IPv6 is not ICMPv6');
  assert.ok(allowed(t, 0, v4(17, 1, [10, 9, 9, 9])), 'whole-network rule, any protocol');
  assert.is(allowed(t, 0, v4(17, 1, [11, 9, 9, 9])), false);
});

test('allows(): protocol and port given directly; unreadable port matches only port-less rules', () => {
  const t = new AccessTable();
  t.setRules(5, ['10.124.0.0/24:22/tcp', '10.124.0.0/24/udp', '10.124.0.0/24:8000'].map(rule));
  const dst = Uint32Array.of(0x0a7c0005, 0, 0, 0);
  assert.ok(t.allows(5, 4, dst, 6, 8000));
  assert.is(t.allows(5, 4, dst, 47, 8000), false, 'ports only ever match TCP and UDP');
  assert.ok(t.allows(5, 4, dst, 6, 22));
  assert.is(t.allows(5, 4, dst, 6, -1), false, 'TCP fragment without a port');
  assert.ok(t.allows(5, 4, dst, 17, -1), 'UDP fragment: the udp rule has no ports');
  assert.is(t.allows(5, 6, dst, 17, 53), false, 'family must match');
  assert.is(t.allows(6, 4, dst, 6, 1), false, 'peer 6 is in mode none');
  assert.is(t.allows(-1, 4, dst, 6, 1), false, 'no such peer');
});

test('setRules: typed rules are normalized; misuse throws RangeError', () => {
  const t = new AccessTable();
  // icmp ignores ports; host bits do not matter.
  t.setRules(2, [{ addr: Uint8Array.of(10, 124, 0, 77), cidr: 24, proto: 'icmp', portLo: 5, portHi: 5 }]);
  assert.ok(allowed(t, 2, v4(1, 0, [10, 124, 0, 1])));
  t.setRules(2, [rule('10.124.0.10:5432/tcp')]);
  assert.is(allowed(t, 2, v4(1, 0, [10, 124, 0, 1])), false, 'setRules replaces');
  assert.throws(() => t.setRules(-1, []), RangeError);
  assert.throws(() => t.setRules(1, [{ addr: new Uint8Array(5), cidr: 8, proto: 'any', portLo: 0, portHi: 65535 }]), RangeError);
  assert.throws(() => t.setRules(1, [{ addr: new Uint8Array(4), cidr: 33, proto: 'any', portLo: 0, portHi: 65535 }]), RangeError);
  assert.throws(() => t.setRules(1, [{ addr: new Uint8Array(4), cidr: 8, proto: 'tcp', portLo: 9, portHi: 8 }]), RangeError);
  assert.is(t.modeOf(1), MODE_NONE, 'a failed setRules leaves the peer unchanged');
});

test.run();
