import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isIPv6 } from 'node:net';
import {
  canonicalIP, formatHostPort, isHostname, parseCidr, parseHostPort, parseIPv4, parseIPv6, parsePort,
} from '../../src/config/ip.js';

test('IPv4: inet_pton rules', () => {
  assert.equal([...(parseIPv4('192.168.0.255') ?? [])], [192, 168, 0, 255]);
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4/8', '']) {
    assert.is(parseIPv4(bad), null, bad);
  }
});

test('IPv6: parse and RFC 5952 format', () => {
  const cases: [string, string][] = [
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:0db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longer run wins
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ];
  for (const [input, canonical] of cases) assert.is(canonicalIP(input), canonical, input);
  for (const bad of ['1:2:3:4:5:6:7:8:9', ':1::', '1:::2', '1::2::3', 'fe80::1%eth0', '12345::', '::g', '1.2.3.4::', '1:2:3:4:5:6:7']) {
    assert.is(parseIPv6(bad), null, bad);
  }
  // Agreement with Node's own validator on a spread of inputs.
  for (const s of ['::', '::1', 'a:b:c:d:e:f:0:1', '::ffff:1.2.3.4', '1::1.2.3.4', '1:2::3:4:5:6:7', 'x::', '1:2']) {
    assert.is(parseIPv6(s) !== null, isIPv6(s), s);
  }
});

test('CIDR rules: optional prefix, host bits keep / mask / reject', () => {
  const keep = parseCidr('10.0.0.1/24', { prefixOptional: true, hostBits: 'keep' });
  assert.equal(keep, { ok: true, value: { cidr: { family: 4, address: '10.0.0.1', prefix: 24 }, hadHostBits: false } });
  const mask = parseCidr('fd00::1:2/112', { prefixOptional: true, hostBits: 'mask' });
  assert.equal(mask, { ok: true, value: { cidr: { family: 6, address: 'fd00::1:0', prefix: 112 }, hadHostBits: true } });
  assert.equal(parseCidr('10.1.2.3/13', { prefixOptional: true, hostBits: 'mask' }),
    { ok: true, value: { cidr: { family: 4, address: '10.0.0.0', prefix: 13 }, hadHostBits: true } });
  assert.equal(parseCidr('10.0.0.2', { prefixOptional: true, hostBits: 'mask' }),
    { ok: true, value: { cidr: { family: 4, address: '10.0.0.2', prefix: 32 }, hadHostBits: false } });
  assert.equal(parseCidr('10.20.0.1/16', { prefixOptional: false, hostBits: 'reject' }),
    { ok: false, error: "'10.20.0.1/16' has host bits set (the network is 10.20.0.0/16)" });
  assert.equal(parseCidr('10.20.0.0', { prefixOptional: false, hostBits: 'reject' }),
    { ok: false, error: "'10.20.0.0' needs a /prefix length" });
  assert.equal(parseCidr('10.0.0.0/33', { prefixOptional: true, hostBits: 'keep' }),
    { ok: false, error: "'10.0.0.0/33' has a bad prefix length (0-32)" });
  assert.is(parseCidr('::/129', { prefixOptional: true, hostBits: 'keep' }).ok, false);
  assert.is(parseCidr('::/128', { prefixOptional: true, hostBits: 'keep' }).ok, true);
  assert.is(parseCidr('0.0.0.0/0', { prefixOptional: false, hostBits: 'reject' }).ok, true);
  assert.is(parseCidr('10.0.0.0/-1', { prefixOptional: true, hostBits: 'keep' }).ok, false);
});

test('ports, host names and HOST:PORT', () => {
  assert.equal(parsePort('0', 0), { ok: true, value: 0 });
  assert.equal(parsePort('65535', 1), { ok: true, value: 65535 });
  for (const bad of ['0', '65536', '-1', '+5', '1e3', 'http', '', '123456']) assert.is(parsePort(bad, 1).ok, false, bad);
  assert.ok(isHostname('vpn.example.com'));
  assert.ok(isHostname('db'));
  assert.not.ok(isHostname('1.2.3.999'));
  assert.not.ok(isHostname('-bad.example'));
  assert.not.ok(isHostname('a..b'));
  assert.equal(parseHostPort('[FD00::1]:51820', true), { ok: true, value: { host: 'fd00::1', port: 51820 } });
  assert.equal(parseHostPort('VPN.Example.com:443', true), { ok: true, value: { host: 'vpn.example.com', port: 443 } });
  assert.equal(parseHostPort('198.51.100.7:51820', false), { ok: true, value: { host: '198.51.100.7', port: 51820 } });
  assert.equal(parseHostPort('vpn.example.com:443', false), { ok: false, error: "'vpn.example.com' is not an IP address" });
  assert.equal(parseHostPort('fd00::1:51820', true), { ok: false, error: "'fd00::1:51820': put an IPv6 address in brackets, [ADDRESS]:PORT" });
  assert.equal(parseHostPort('1.2.3.4', true), { ok: false, error: "'1.2.3.4' has no :PORT" });
  assert.equal(parseHostPort('1.2.3.4:0', true), { ok: false, error: "'0' is not a port (1-65535)" });
  assert.equal(parseHostPort('[fd00::1]51820', true), { ok: false, error: "'[fd00::1]51820' is not [IPv6]:PORT" });
  assert.is(formatHostPort({ host: 'fd00::1', port: 1 }), '[fd00::1]:1');
  assert.is(formatHostPort({ host: 'a.b', port: 2 }), 'a.b:2');
});

test.run();
