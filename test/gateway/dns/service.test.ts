// What a gateway config means for its DNS (dns/service.ts) and who may ask it (dns/sources.ts):
// listen addresses, client prefixes, upstream setting, and the one address client configs name,
// for the address layouts that used to give laptops a DNS address nobody answered on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../../src/config/parse.js';
import type { WgtsConfig } from '../../../src/config/model.js';
import { clientDnsAddress, dnsServiceOf } from '../../../src/gateway/dns/service.js';
import { LOOPBACK_CLIENTS, SourceFilter } from '../../../src/gateway/dns/sources.js';

const PRIV = 'EN4an5hpf8oZAKGvsqGpt8EX3Sq0OIdPFpEcL/cFNWI=';

function gateway(addresses: string, extra = ''): WgtsConfig {
  const r = parseConfig(`[Interface]\nPrivateKey = ${PRIV}\nAddress = ${addresses}\n\n[Gateway]\nNetwork = 10.124.0.0/24\n${extra}`, 'gw.conf');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.config;
}

test('SourceFilter: prefixes of both families, IPv4-mapped and zoned sources, nothing else', () => {
  const f = new SourceFilter(['10.123.0.0/24', 'fd00:123::/64', '192.0.2.7']);
  for (const yes of ['10.123.0.1', '10.123.0.254', '::ffff:10.123.0.9', '::FFFF:10.123.0.9', 'fd00:123::2', 'fd00:123::ffff:1%wg0', '192.0.2.7']) {
    assert.ok(f.allows(yes), yes);
  }
  for (const no of ['10.123.1.1', '10.124.0.10', '127.0.0.1', '::1', 'fd00:124::2', '192.0.2.8', '::ffff:10.124.0.1', 'not-an-ip', '', undefined]) {
    assert.not.ok(f.allows(no), String(no));
  }
  const odd = new SourceFilter(['10.0.0.0/13']);
  assert.ok(odd.allows('10.7.255.255'));
  assert.not.ok(odd.allows('10.8.0.0'));
  const loop = new SourceFilter(LOOPBACK_CLIENTS);
  assert.ok(loop.allows('127.0.0.2') && loop.allows('::1') && !loop.allows('10.0.0.1'));
  assert.throws(() => new SourceFilter(['10.0.0.0/33']), /DNS client prefix '10.0.0.0\/33'/);
});

test('dnsServiceOf: every tunnel address on port 53, the tunnel subnets as clients, the host resolvers by default', () => {
  assert.equal(dnsServiceOf(gateway('fd00::1/64, 10.123.0.1/24')), {
    listen: ['fd00::1', '10.123.0.1'], port: 53, clients: ['fd00::/64', '10.123.0.0/24'], upstream: 'system',
  });
  assert.equal(dnsServiceOf(gateway('10.123.0.1/24', 'Upstream = 10.124.0.2, [fd00::53]:5353\nUpstream = 10.124.0.3:53\n'))?.upstream,
    ['10.124.0.2', '[fd00::53]:5353', '10.124.0.3']);
  assert.is(dnsServiceOf(gateway('10.123.0.1/24', 'Upstream = none\n'))?.upstream, 'none');
  assert.equal(dnsServiceOf(gateway('10.123.0.1/24, fd00::1/64', 'ListenDns = [fd00::1]:53\n'))?.listen, ['fd00::1']);
  assert.equal(dnsServiceOf(gateway('10.123.0.1/24', 'ListenDns = 0.0.0.0:53\n'))?.listen, ['0.0.0.0']);
  const laptop = parseConfig(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.2/32\n`, 'l.conf');
  assert.is(laptop.ok && dnsServiceOf(laptop.config), null);
});

test('clientDnsAddress: the IPv4 tunnel address even when IPv6 comes first; the IPv6 one only when the DNS listens there alone', () => {
  const v6first = gateway('fd00::1/64, 10.123.0.1/24');
  assert.is(clientDnsAddress(v6first, ['10.123.0.1', 'fd00::1']), '10.123.0.1');
  assert.is(clientDnsAddress(v6first, ['10.123.0.1']), '10.123.0.1');
  const v6listen = gateway('10.123.0.1/24, fd00::1/64', 'ListenDns = [fd00::1]:53\n');
  assert.is(clientDnsAddress(v6listen, ['10.123.0.1', 'fd00::1']), 'fd00::1');
  assert.is(clientDnsAddress(v6listen, ['10.123.0.1']), null, 'laptops without IPv6 could not reach it');
  assert.is(clientDnsAddress(gateway('10.123.0.1/24, fd00::1/64', 'ListenDns = 0.0.0.0:53\n'), ['10.123.0.1', 'fd00::1']), '10.123.0.1');
  assert.is(clientDnsAddress(gateway('10.123.0.1/24, fd00::1/64', 'ListenDns = [::]:53\n'), ['fd00::1']), 'fd00::1');
  assert.is(clientDnsAddress(gateway('10.123.0.1/24, fd00::1/64', 'ListenDns = 0.0.0.0:53\n'), ['fd00::1']), null, '0.0.0.0 is IPv4 only');
});

test('the parser refuses a ListenDns laptops cannot use, as FILE:LINE', () => {
  const bad = (extra: string): string[] => {
    const r = parseConfig(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\n${extra}`, 'gw.conf');
    return r.ok ? [] : r.errors.map((e) => e.message);
  };
  assert.match(bad('ListenDns = 10.123.0.1:5353\n').join('\n'), /^gw\.conf:7: bad ListenDns: port 5353: laptops send DNS to port 53 only/);
  assert.match(bad('ListenDns = 10.124.0.1:53\n').join('\n'), /^gw\.conf:7: bad ListenDns: 10\.124\.0\.1 is not one of this gateway's tunnel addresses/);
  assert.match(bad('ListenDns = dns.example:53\n').join('\n'), /^gw\.conf:7: bad ListenDns: 'dns\.example:53' is not IP, IPv4:PORT or \[IPv6\]:PORT/);
  assert.equal(bad('ListenDns = 10.123.0.1\n'), [], 'a bare address means port 53');
  assert.equal(bad('ListenDns = [::]:53\n'), []);
});

test.run();
