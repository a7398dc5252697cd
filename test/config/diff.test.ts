import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { diffConfigs } from '../../src/config/diff.js';
import { formatDocument, removePeer, setKey } from '../../src/config/write.js';
import { FULL, key, mustParse } from './helpers/fixtures.js';

const base = mustParse(FULL);
/** The config after applying `edits` to FULL's document. */
const edited = (...edits: ((d: typeof base.doc) => typeof base.doc)[]) =>
  mustParse(formatDocument(edits.reduce((d, e) => e(d), base.doc))).config;

test('identical configs, and configs differing only in spelling, have an empty diff', () => {
  const d = diffConfigs(base.config, mustParse(FULL).config);
  assert.equal(d, { device: {}, peersAdded: [], peersRemoved: [], peersChanged: [], interfaceFields: [], gatewayFields: [], env: false, empty: true });
  const respelled = FULL
    .replace('10.99.0.2/32, fd00:99::2/128', 'fd00:99:0:0::2/128, 10.99.0.2')
    .replace('persistentkeepalive = off', 'persistentkeepalive = 0')
    .replace('[2001:DB8::7]', '[2001:db8:0::7]');
  assert.is(diffConfigs(base.config, mustParse(respelled).config).empty, true);
});

test('peers added, removed and changed, with AllowedIPs deltas', () => {
  const next = edited(
    (d) => removePeer(d, 'bob'),
    (d) => setKey(d, { peer: 'alice' }, 'AllowedIPs', ['10.99.0.2/32', '10.99.6.0/24']),
    (d) => setKey(d, { peer: 'alice' }, 'Endpoint', '198.51.100.8:51820'),
    (d) => setKey(d, { peer: 'alice' }, 'Allow', '10.20.0.0/16'),
  );
  const added = mustParse(`[Interface]\n[Peer]\nPublicKey = ${key(20)}\nAllowedIPs = 10.99.0.20/32\n`).config.peers[0];
  next.peers.push(added);
  const d = diffConfigs(base.config, next);
  assert.equal(d.peersAdded.map((p) => p.publicKey), [key(20)]);
  assert.equal(d.peersRemoved.map((p) => p.name), ['Bob']);
  assert.is(d.peersChanged.length, 1);
  const c = d.peersChanged[0];
  assert.is(c.publicKey, key(2));
  assert.equal(c.fields, ['allowedIPs', 'endpoint', 'allow']);
  assert.equal(c.allowedIPsAdded, [{ family: 4, address: '10.99.6.0', prefix: 24 }]);
  assert.equal(c.allowedIPsRemoved, [{ family: 6, address: 'fd00:99::2', prefix: 128 }, { family: 4, address: '10.99.5.0', prefix: 24 }]);
  assert.equal(c.after.endpoint, { host: '198.51.100.8', port: 51820 });
  assert.equal(d.device, {});
  assert.is(d.empty, false);
});

test('a rotated key is a removal plus an addition; other peer fields are reported by name', () => {
  const next = edited(
    (d) => setKey(d, { peer: 'bob' }, 'PublicKey', key(30)),
    (d) => setKey(d, { peer: 'alice' }, 'PresharedKey', null),
    (d) => setKey(d, { peer: 'alice' }, 'PersistentKeepalive', '30'),
    (d) => setKey(d, { peer: 'alice' }, 'Name', 'alice2'),
  );
  const d = diffConfigs(base.config, next);
  assert.equal(d.peersRemoved.map((p) => p.publicKey), [key(4)]);
  assert.equal(d.peersAdded.map((p) => p.publicKey), [key(30)]);
  assert.equal(d.peersChanged.map((c) => c.fields), [['presharedKey', 'persistentKeepalive', 'name']]);
});

test('device keys, wg-quick fields and gateway fields', () => {
  const next = edited(
    (d) => setKey(d, 'Interface', 'PrivateKey', key(40)),
    (d) => setKey(d, 'Interface', 'ListenPort', null),
    (d) => setKey(d, 'Interface', 'FwMark', 'off'),
    (d) => setKey(d, 'Interface', 'MTU', '1400'),
    (d) => setKey(d, 'Interface', 'DNS', '10.99.0.1, other.internal'),
    (d) => setKey(d, 'Interface', 'PostDown', null),
    (d) => setKey(d, 'Gateway', 'Host', 'db=10.20.0.7'),
    (d) => setKey(d, 'Gateway', 'Masquerade', 'true'),
  );
  const d = diffConfigs(base.config, next);
  assert.equal(d.device, {
    privateKey: { from: key(0x40), to: key(40) },
    listenPort: { from: 51820, to: undefined },
    fwMark: { from: 0x1234, to: 0 },
  });
  assert.equal(d.interfaceFields, ['dnsSearch', 'postDown', 'mtu']);
  assert.equal(d.gatewayFields, ['hosts', 'masquerade']);
  assert.equal([d.peersAdded, d.peersRemoved, d.peersChanged], [[], [], []]);
  const noGateway = mustParse(FULL.replace(/\[Gateway\][\s\S]*?\n\n/, '')).config;
  assert.equal(diffConfigs(base.config, noGateway).gatewayFields, ['networks', 'domain', 'endpoint', 'hosts', 'masquerade', 'upstream', 'listenDns']);
});

test('[Env] appearing, its sources and port changing, and a peer\'s Env grants are changes', () => {
  const withEnv = mustParse(`${FULL}\n[Env]\nSource = app:/etc/wgts/app.env\n`).config;
  const d = diffConfigs(base.config, withEnv);
  assert.ok(d.env);
  assert.not.ok(d.empty);
  assert.not.ok(diffConfigs(withEnv, mustParse(`${FULL}\n[Env]\nsource = app:/etc/wgts/app.env # same\n`).config).env);
  assert.ok(diffConfigs(withEnv, mustParse(`${FULL}\n[Env]\nSource = app:/etc/wgts/app.env\nPort = 5381\n`).config).env);
  assert.ok(diffConfigs(withEnv, mustParse(`${FULL}\n[Env]\nSource = app:/etc/wgts/other.env\n`).config).env);
  const granted = mustParse(formatDocument(setKey(base.doc, { peer: key(2) }, 'Env', 'app_*'))).config;
  assert.equal(diffConfigs(base.config, granted).peersChanged.map((c) => c.fields), [['env']]);
});

test.run();
