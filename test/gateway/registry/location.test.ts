// The registry location (etcd://[USER@]HOST:PORT[,...]/PREFIX), the connection options taken from
// the environment, and the key layout (schema.ts) as pure functions: no etcd needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../../src/config/parse.js';
import { clientOptions, describeProtection, exposureWarning } from '../../../src/gateway/registry/connect.js';
import { isRegistryLocation, parseRegistryLocation } from '../../../src/gateway/registry/location.js';
import { assemble, decodeState, encodeState, peerId, type StoredKv } from '../../../src/gateway/registry/schema.js';

test('locations: members (default port 2379, IPv6 in brackets), prefix, user; the canonical URL', () => {
  const l = parseRegistryLocation('etcd://10.0.0.5:2379,10.0.0.6,[fd00::7]:2380/wgts/shop/');
  assert.equal(l.members, ['10.0.0.5:2379', '10.0.0.6:2379', '[fd00::7]:2380']);
  assert.is(l.prefix, '/wgts/shop');
  assert.is(l.url, 'etcd://10.0.0.5:2379,10.0.0.6:2379,[fd00::7]:2380/wgts/shop');
  assert.is(parseRegistryLocation('etcd://ops@etcd.example.com:2379/p').user, 'ops');
  assert.ok(isRegistryLocation('etcd://x/y'));
  assert.not.ok(isRegistryLocation('/etc/wireguard/etcd.conf'));
});

test('bad locations say what is wrong; a password in the URL is refused and never repeated', () => {
  const err = (u: string): string => { try { parseRegistryLocation(u); return ''; } catch (e) { return (e as Error).message; } };
  assert.match(err('etcd://10.0.0.5:2379'), /no PREFIX/);
  assert.match(err('etcd:///p'), /no HOST:PORT/);
  assert.match(err('etcd://10.0.0.5:99999/p'), /member '10\.0\.0\.5:99999'/);
  assert.match(err('etcd://h:2379/a b'), /PREFIX 'a b' must be/);
  assert.match(err('etcd://h:2379/a//b'), /PREFIX/);
  const pw = err('etcd://ops:hunter2@h:2379/p');
  assert.match(pw, /a password does not go into the URL: set WGTS_REGISTRY_PASSWORD/);
  assert.not.match(pw, /hunter2/);
});

test('connection options from the environment: user and password go together; TLS with the CA; the protection described', async () => {
  const loc = parseRegistryLocation('etcd://10.0.0.5:2379/p');
  const plain = await clientOptions(loc, {});
  assert.equal(plain.hosts, ['http://10.0.0.5:2379']);
  assert.is(plain.auth, undefined);
  const auth = await clientOptions(loc, { WGTS_REGISTRY_USER: 'gw', WGTS_REGISTRY_PASSWORD: 'pw' });
  assert.equal(auth.auth, { username: 'gw', password: 'pw' });
  await clientOptions(loc, { WGTS_REGISTRY_PASSWORD: 'pw' }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /a registry password is set but no user/));
  await clientOptions(loc, { WGTS_REGISTRY_USER: 'gw' }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /needs a password/));
  await clientOptions(loc, { WGTS_REGISTRY_CA: '/nonexistent/ca.pem' }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /^WGTS_REGISTRY_CA=\/nonexistent\/ca\.pem: /));
  assert.is(describeProtection(loc, { WGTS_REGISTRY_USER: 'gw' }), 'no TLS, user gw');
  assert.match(exposureWarning(loc, {}) ?? '', /without TLS: the gateway's private key .* cross the network in the clear/);
  assert.is(exposureWarning(loc, { WGTS_REGISTRY_CA: '/x' }), null);
  assert.is(exposureWarning(parseRegistryLocation('etcd://127.0.0.1:2379/p'), {}), null, 'loopback only: nothing crosses a network');
});

const GATEWAY = `[Interface]
PrivateKey = ${'A'.repeat(43)}=
ListenPort = 51820
Address = 10.123.0.1/24

[Gateway]
Name = shop
Network = 10.124.0.0/24

[Peer]
Name = Alice
PublicKey = ${'B'.repeat(42)}A=
AllowedIPs = 10.123.0.2/32

[Peer]
PublicKey = ${'C/+'.repeat(14)}A=
AllowedIPs = 10.123.0.3/32
`;

/** A registry's keys as etcd would hold them after writing `values` in order, one revision each. */
function stored(values: Map<string, string>): Map<string, StoredKv> {
  let rev = 10n;
  return new Map([...values].map(([k, v]) => [k, { value: v, create: ++rev, mod: rev }]));
}

test('schema: one key per peer (by lower-case name, else ~key), indexes, the private key alone; decoding gives the state back', () => {
  const r = parseConfig(GATEWAY, 'x.conf');
  if (!r.ok) throw new Error('fixture');
  const kv = encodeState(r.config);
  assert.equal([...kv.keys()], ['identity', 'settings', 'peers/alice', `keys/${'B'.repeat(42)}A`, 'addresses/10.123.0.2_32',
    `peers/~${'C_-'.repeat(14)}A`, `keys/${'C_-'.repeat(14)}A`, 'addresses/10.123.0.3_32']);
  assert.is(peerId({ name: 'Alice', publicKey: 'x' }), 'alice');
  assert.not.match(kv.get('settings') ?? '', /PrivateKey/);
  assert.is(kv.get('identity'), `${'A'.repeat(43)}=\n`);
  kv.set('format', 'wgts-registry 1');
  const d = decodeState(stored(kv), 'etcd://h:2379/p');
  if (d === null || !d.ok) throw new Error('does not decode');
  assert.equal(d.config.peers.map((p) => p.name ?? null), ['Alice', null], 'peers in the order their keys were created');
  assert.is(d.config.interface.privateKey, `${'A'.repeat(43)}=`);
  assert.equal(encodeState(d.config), encodeState(r.config), 'a round trip changes nothing');
});

test('schema: a broken key is reported as URL/KEY:LINE; settings must open with [Interface]; no settings = no state', () => {
  const r = parseConfig(GATEWAY, 'x.conf');
  if (!r.ok) throw new Error('fixture');
  const kv = encodeState(r.config);
  kv.set('peers/alice', '[Peer]\nName = Alice\nPublicKey = nope\nAllowedIPs = 10.123.0.2/32\n');
  const d = decodeState(stored(kv), 'etcd://h:2379/p');
  assert.ok(d !== null && !d.ok);
  if (d === null || d.ok) return;
  assert.match(d.errors[0]?.message ?? '', /^etcd:\/\/h:2379\/p\/peers\/alice:3: /);
  const bad = encodeState(r.config);
  bad.set('settings', `[Gateway]\n${bad.get('settings') ?? ''}`);
  const b = decodeState(stored(bad), 'etcd://h:2379/p');
  assert.match(b !== null && !b.ok ? b.errors[0]?.message ?? '' : '', /settings:1: the settings must begin with \[Interface\]/);
  assert.is(assemble(new Map()), null);
});

test.run();
