// UAPI set parser and get formatter. Every expected reply string below was recorded from the Debian
// wireguard-go 0.0.20220316 binary over its socket (see the notes in src/device/uapi/protocol.ts);
// the few places where we follow current wireguard-go instead say so.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applySet,
  applySetLines,
  formatEndpoint,
  formatErrno,
  formatGet,
  parseAllowedIp,
  parseEndpoint,
  UapiErrno,
  UapiError,
} from '../../../src/device/uapi/protocol.js';
import { FakeDevice } from './fake-target.js';

// Keys of the recorded session: PRIV's public key is OWN_PUB (wg pubkey), PUB a peer.
const PRIV = '980d1eb7f47a43843c0f030619dceb241461d8b82320afe3f96d71f13610ca5a';
const OWN_PUB = '54efc5253d989b7b69379157beae77b1900af0cb160774ba6e73f42c48667e56';
const PUB = '4cceab43cdcffa2c49b2bd3589a13bfcb84632ef35be1b06a618fe4794970372';
const PSK = '5cceab53cdcffa2c59b2bd3589a13bfcb85632ef35be1b06a618fe5795970372';
const ZERO = '0'.repeat(64);

/** A device configured like the recorded wireguard-go one: private key PRIV, port 51820. */
async function device(): Promise<FakeDevice> {
  const d = new FakeDevice();
  assert.is((await applySet(`private_key=${PRIV}\nlisten_port=51820\n\n`, d)).errno, 0);
  return d;
}

/** The reply bytes wireguard-go would write for a set body. */
async function setReply(d: FakeDevice, body: string): Promise<string> {
  return formatErrno((await applySet(body, d)).errno);
}

const get = (d: FakeDevice): string => formatGet(d.getState());

test('own public key is derived as wg does (fake target sanity)', async () => {
  assert.is(Buffer.from((await device()).ownPublicKey() as Uint8Array).toString('hex'), OWN_PUB);
});

// [set body after "set=1\n", reply recorded from wireguard-go]
const errorCases: [string, string][] = [
  ['bogus\n\n', 'errno=-71\n\n'],
  ['listen_port\n\n', 'errno=-71\n\n'],
  ['foo=bar\n\n', 'errno=-22\n\n'],
  ['foo=\n\n', 'errno=-22\n\n'],
  ['=\n\n', 'errno=-22\n\n'],
  ['protocol_version=1\n\n', 'errno=-22\n\n'],
  ['private_key=zz\n\n', 'errno=-22\n\n'],
  ['private_key=\n\n', 'errno=-22\n\n'],
  [`private_key=${'f'.repeat(64)}00\n\n`, 'errno=-22\n\n'],
  [`private_key=${'f'.repeat(62)}\n\n`, 'errno=-22\n\n'],
  ['listen_port=70000\n\n', 'errno=-22\n\n'],
  ['listen_port=-1\n\n', 'errno=-22\n\n'],
  ['listen_port=+80\n\n', 'errno=-22\n\n'],
  ['listen_port=\n\n', 'errno=-22\n\n'],
  ['listen_port= 80\n\n', 'errno=-22\n\n'],
  ['listen_port=1=2\n\n', 'errno=-22\n\n'],
  ['fwmark=4294967296\n\n', 'errno=-22\n\n'],
  ['fwmark=abc\n\n', 'errno=-22\n\n'],
  ['replace_peers=false\n\n', 'errno=-22\n\n'],
  ['replace_peers=TRUE\n\n', 'errno=-22\n\n'],
  ['public_key=abc\n\n', 'errno=-22\n\n'],
  [`public_key=${PUB}\nlisten_port=1\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nupdate_only=yes\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nremove=1\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\npreshared_key=00\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nendpoint=1.2.3.4\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\npersistent_keepalive_interval=65536\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nreplace_allowed_ips=false\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nallowed_ip=1.2.3.4\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nprotocol_version=2\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nfoo=bar\n\n`, 'errno=-22\n\n'],
  [`public_key=${PUB}\nbogus\n\n`, 'errno=-71\n\n'],
  ...['[1.2.3.4]:5', '::1:5', 'localhost:5', '1.2.3.4:65536', '01.2.3.4:5', '1.2.3.4:+5', '[::1%]:5'].map(
    (e): [string, string] => [`public_key=${PUB}\nendpoint=${e}\n\n`, 'errno=-22\n\n'],
  ),
  ...['1.2.3.4/33', '1.2.3.4/', '/24', '1.2.3.4/-1', '::/129', 'fe80::1%lo/64', '1.2.3.4/32x', ' 1.2.3.4/32', '1.2.3.4/32 '].map(
    (a): [string, string] => [`public_key=${PUB}\nreplace_allowed_ips=true\nallowed_ip=${a}\n\n`, 'errno=-22\n\n'],
  ),
];

test('every error reply matches wireguard-go', async () => {
  for (const [body, reply] of errorCases) assert.is(await setReply(await device(), body), reply, JSON.stringify(body));
});

test('successful set replies errno=0 (replace_peers=true, protocol_version=1)', async () => {
  const d = await device();
  assert.is(await setReply(d, 'replace_peers=true\n\n'), 'errno=0\n\n');
  assert.is(await setReply(d, `public_key=${PUB}\nprotocol_version=1\n\n`), 'errno=0\n\n');
});

test('recorded get reply: key order, omitted keys, masking, allowed-ip order, uppercase key input', async () => {
  const d = await device();
  assert.is(await setReply(d, `replace_peers=true\npublic_key=${PUB.toUpperCase()}\nendpoint=127.0.0.1:5\n\n`), 'errno=0\n\n');
  assert.is(
    get(d),
    `private_key=${PRIV}\nlisten_port=51820\npublic_key=${PUB}\npreshared_key=${ZERO}\nprotocol_version=1\nendpoint=127.0.0.1:5\n` +
      'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n',
  );
  const body =
    `public_key=${PUB}\nendpoint=[::1]:5\nallowed_ip=10.1.2.3/24\nallowed_ip=fd00:0:0:0:0:0:0:1/64\n` +
    'allowed_ip=::ffff:1.2.3.4/120\nallowed_ip=0.0.0.0/0\nallowed_ip=10.1.2.0/24\nallowed_ip=1.1.1.1/32\n\n';
  assert.is(await setReply(d, body), 'errno=0\n\n');
  assert.is(
    get(d),
    `private_key=${PRIV}\nlisten_port=51820\npublic_key=${PUB}\npreshared_key=${ZERO}\nprotocol_version=1\nendpoint=[::1]:5\n` +
      'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n' +
      'allowed_ip=fd00::/64\nallowed_ip=::ffff:1.2.3.0/120\nallowed_ip=0.0.0.0/0\nallowed_ip=10.1.2.0/24\nallowed_ip=1.1.1.1/32\nerrno=0\n\n',
  );
});

test('empty device: get is just errno=0; private key zero clears it, unclamped keys are clamped', async () => {
  assert.is(formatGet(new FakeDevice().getState()), 'errno=0\n\n');
  const d = await device();
  assert.is(await setReply(d, `private_key=${ZERO}\n\n`), 'errno=0\n\n');
  assert.is(get(d), 'listen_port=51820\nerrno=0\n\n');
  assert.is(await setReply(d, `private_key=${'f'.repeat(64)}\n\n`), 'errno=0\n\n');
  assert.is(get(d), `private_key=f8${'f'.repeat(60)}7f\nlisten_port=51820\nerrno=0\n\n`);
});

test('fwmark, keepalive, preshared key and update_only on an existing peer (recorded)', async () => {
  const d = await device();
  assert.is(await setReply(d, `fwmark=5\npublic_key=${PUB}\nendpoint=1.1.1.1:1\n\n`), 'errno=0\n\n');
  const body = `public_key=${PUB}\nupdate_only=true\nendpoint=2.2.2.2:2\npreshared_key=${PSK}\npersistent_keepalive_interval=25\n\n`;
  assert.is(await setReply(d, body), 'errno=0\n\n');
  assert.is(
    get(d),
    `private_key=${PRIV}\nlisten_port=51820\nfwmark=5\npublic_key=${PUB}\npreshared_key=${PSK}\nprotocol_version=1\nendpoint=2.2.2.2:2\n` +
      'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=25\nerrno=0\n\n',
  );
  // A zero preshared key reads back as zeros again.
  assert.is(await setReply(d, `public_key=${PUB}\npreshared_key=${ZERO}\n\n`), 'errno=0\n\n');
  assert.match(get(d), `preshared_key=${ZERO}\n`);
});

test('update_only on a new peer creates nothing; remove drops the peer and ignores the rest', async () => {
  const d = await device();
  assert.is(await setReply(d, `public_key=${PUB}\nupdate_only=true\nendpoint=1.1.1.1:1\n\n`), 'errno=0\n\n');
  assert.is(get(d), `private_key=${PRIV}\nlisten_port=51820\nerrno=0\n\n`);
  assert.is(await setReply(d, `public_key=${PUB}\nendpoint=1.1.1.1:1\nupdate_only=true\n\n`), 'errno=0\n\n');
  assert.is(get(d), `private_key=${PRIV}\nlisten_port=51820\nerrno=0\n\n`);
  assert.is(await setReply(d, `public_key=${PUB}\nallowed_ip=10.0.0.1/32\n\n`), 'errno=0\n\n');
  assert.is(await setReply(d, `public_key=${PUB}\nremove=true\nendpoint=3.3.3.3:3\nallowed_ip=10.0.0.2/32\n\n`), 'errno=0\n\n');
  assert.is(get(d), `private_key=${PRIV}\nlisten_port=51820\nerrno=0\n\n`);
  assert.is(d.owners.size, 0, 'a removed peer keeps no prefixes');
});

test('own public key selects a placeholder; the zero public key is an ordinary peer (recorded)', async () => {
  const d = await device();
  assert.is(await setReply(d, `public_key=${OWN_PUB}\nendpoint=1.1.1.1:1\nallowed_ip=9.9.9.9/32\n\n`), 'errno=0\n\n');
  assert.is(d.peers.size, 0);
  // Values are still validated on the placeholder.
  assert.is(await setReply(d, `public_key=${OWN_PUB}\nendpoint=nonsense\n\n`), 'errno=-22\n\n');
  assert.is(await setReply(d, `public_key=${ZERO}\n\n`), 'errno=0\n\n');
  assert.is(
    get(d),
    `private_key=${PRIV}\nlisten_port=51820\npublic_key=${ZERO}\npreshared_key=${ZERO}\nprotocol_version=1\n` +
      'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n',
  );
});

test('not transactional: earlier lines stay, later ones are not applied (recorded)', async () => {
  const d = await device();
  assert.is(await setReply(d, 'bogus\nlisten_port=51823\n\n'), 'errno=-71\n\n');
  assert.is(d.listenPort, 51820);
  assert.is(await setReply(d, 'listen_port=51821\nfwmark=x\nlisten_port=51822\n\n'), 'errno=-22\n\n');
  assert.is(d.listenPort, 51821);
  // The peer created by public_key stays although a later line of its block fails.
  assert.is(await setReply(d, `public_key=${PUB}\nallowed_ip=10.0.0.0/8\nendpoint=1.2.3.4\nallowed_ip=10.9.0.0/16\n\n`), 'errno=-22\n\n');
  assert.equal(d.peer(PUB).allowedIps, ['10.0.0.0/8']);
});

test('listen port in use answers -98 (recorded); target errors map to the errno of their step', async () => {
  const d = await device();
  d.portsInUse.add(40000);
  assert.is(await setReply(d, 'listen_port=40000\nfwmark=5\n\n'), 'errno=-98\n\n');
  assert.is(get(d), `private_key=${PRIV}\nerrno=0\n\n`, 'port lost, fwmark not reached (as recorded)');
  d.setFwmark = () => {
    throw new Error('setsockopt: operation not permitted');
  };
  assert.is(await setReply(d, 'fwmark=1\n\n'), 'errno=-98\n\n');
  d.createPeer = () => {
    throw new Error('too many peers');
  };
  assert.is(await setReply(d, `public_key=${PUB}\n\n`), 'errno=-22\n\n');
  const e = new FakeDevice();
  e.removeAllPeers = () => {
    throw new UapiError(-12, 'custom');
  };
  assert.equal(await applySet('replace_peers=true\n\n', e), { errno: -12, message: 'custom' });
  const f = new FakeDevice();
  const real = f.createPeer.bind(f);
  f.createPeer = (k) => {
    const p = real(k);
    p.setEndpoint = () => {
      throw new Error('boom');
    };
    return p;
  };
  assert.is(await setReply(f, `public_key=${PUB}\nendpoint=1.2.3.4:5\n\n`), 'errno=-5\n\n');
});

test('asynchronous listen port: later lines wait for it, a rejection is -98; sync targets apply at once', async () => {
  const d = await device();
  let release = (): void => undefined;
  d.setListenPort = (port) =>
    new Promise<void>((resolve) => {
      release = () => {
        d.listenPort = port;
        resolve();
      };
    });
  const pending = applySet('listen_port=1234\nfwmark=3\n\n', d);
  await new Promise((r) => setTimeout(r, 20));
  assert.is(d.fwmark, 0, 'the line after an unfinished bind waits');
  release();
  assert.equal(await pending, { errno: 0 });
  assert.is(d.listenPort, 1234);
  assert.is(d.fwmark, 3);
  d.setListenPort = () => Promise.reject(new Error('bind: address already in use'));
  assert.equal(await applySet('listen_port=1\nfwmark=4\n\n', d), { errno: -98, message: 'failed to set listen_port: bind: address already in use' });
  assert.is(d.fwmark, 3, 'not applied after the failed bind');
  const e = new FakeDevice();
  const done = applySet(`listen_port=7\npublic_key=${PUB}\n\n`, e);
  assert.is(e.listenPort, 7, 'a synchronous target is configured before applySet returns');
  assert.is(e.peers.size, 1);
  assert.equal(await done, { errno: 0 });
});

test('peerConfigured: once per finished block, not for the block that failed', async () => {
  const d = await device();
  const other = 'ab'.repeat(32);
  await applySet(`public_key=${PUB}\npersistent_keepalive_interval=25\npublic_key=${other}\nendpoint=1.2.3.4:5\n\n`, d);
  assert.equal(d.configured, [
    { publicKey: PUB, created: true, keepaliveTurnedOn: true },
    { publicKey: other, created: true, keepaliveTurnedOn: false },
  ]);
  d.configured.length = 0;
  await applySet(`public_key=${PUB}\npersistent_keepalive_interval=30\n\n`, d);
  assert.equal(d.configured, [{ publicKey: PUB, created: false, keepaliveTurnedOn: false }], 'already on: not turned on');
  d.configured.length = 0;
  await applySet(`public_key=${other}\nendpoint=1.2.3.4:6\npublic_key=${PUB}\nendpoint=bad\n\n`, d);
  assert.equal(d.configured, [{ publicKey: other, created: false, keepaliveTurnedOn: false }]);
  assert.is(d.peer(other).endpoint?.port, 6);
  d.configured.length = 0;
  await applySet(`public_key=${PUB}\nremove=true\n\n`, d);
  assert.equal(d.configured, [], 'a removed peer is not started');
});

test('read errors: lines before them are applied, the current peer finished, errno -5', async () => {
  const d = await device();
  const r = await applySetLines([`public_key=${PUB}`, 'endpoint=1.2.3.4:5'], d, 'line too long');
  assert.equal(r, { errno: UapiErrno.IO, message: 'failed to read input: line too long' });
  assert.is(d.peer(PUB).endpoint?.port, 5);
  assert.is(d.configured.length, 1);
});

test('body framing: CR dropped, first empty line ends it, unterminated tail applied at end', async () => {
  const d = await device();
  assert.is(await setReply(d, 'listen_port=51821\r\n\r\nlisten_port=1\n\n'), 'errno=0\n\n');
  assert.is(d.listenPort, 51821);
  assert.is(await setReply(d, 'listen_port=51822\n'), 'errno=0\n\n');
  assert.is(d.listenPort, 51822);
  assert.is(await setReply(d, 'listen_port=51823'), 'errno=0\n\n');
  assert.is(d.listenPort, 51823);
});

test('allowed_ip=-prefix removes only that prefix of this peer (current wireguard-go; 0.0.20220316 said -22)', async () => {
  const d = await device();
  const other = 'cd'.repeat(32);
  await applySet(`public_key=${PUB}\nallowed_ip=10.0.0.0/24\nallowed_ip=10.0.1.0/24\npublic_key=${other}\nallowed_ip=10.0.2.0/24\n\n`, d);
  assert.is(await setReply(d, `public_key=${PUB}\nallowed_ip=-10.0.0.7/24\nallowed_ip=-10.0.2.0/24\nallowed_ip=-192.168.0.0/16\n\n`), 'errno=0\n\n');
  assert.equal(d.peer(PUB).allowedIps, ['10.0.1.0/24']);
  assert.equal(d.peer(other).allowedIps, ['10.0.2.0/24'], "another peer's prefix stays");
  assert.is(await setReply(d, `public_key=${PUB}\nallowed_ip=--10.0.1.0/24\n\n`), 'errno=-22\n\n');
  assert.is(await setReply(d, `public_key=${PUB}\nallowed_ip=+10.0.1.0/24\n\n`), 'errno=-22\n\n');
});

test('prefix lengths with a leading zero or sign are rejected (current Go; 0.0.20220316 accepted them)', async () => {
  for (const a of ['1.2.3.4/024', '1.2.3.4/+24', '1.2.3.4/00']) assert.is(parseAllowedIp(a), null, a);
  assert.is(parseAllowedIp('1.2.3.4/0')?.prefix.cidr, 0);
});

test('allowed_ip canonical read-back (recorded)', async () => {
  const cases: [string, string][] = [
    ['::1/128', '::1/128'],
    ['FD00::1/8', 'fd00::/8'],
    ['::ffff:0:0/96', '::ffff:0.0.0.0/96'],
    ['1::2:3:4:5:6:7/128', '1:0:2:3:4:5:6:7/128'],
    ['1:0:0:2:0:0:0:3/128', '1:0:0:2::3/128'],
    ['0:0:1:0:0:1:0:0/128', '::1:0:0:1:0:0/128'],
    ['::ffff:1.2.3.4/128', '::ffff:1.2.3.4/128'],
    ['::1.2.3.4/128', '::102:304/128'],
    ['64:ff9b::1.2.3.4/128', '64:ff9b::102:304/128'],
    ['10.1.2.3/24', '10.1.2.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0'],
  ];
  for (const [input, out] of cases) {
    const d = await device();
    assert.is(await setReply(d, `public_key=${PUB}\nreplace_allowed_ips=true\nallowed_ip=${input}\n\n`), 'errno=0\n\n', input);
    assert.equal(d.peer(PUB).allowedIps, [out], input);
    assert.match(get(d), `\nallowed_ip=${out}\nerrno=0\n\n`);
  }
});

test('endpoint canonical read-back (recorded; zones printed as current wireguard-go does)', async () => {
  const cases: [string, string][] = [
    ['127.0.0.1:5', '127.0.0.1:5'],
    ['[::1]:5', '[::1]:5'],
    ['[::ffff:1.2.3.4]:5', '[::ffff:1.2.3.4]:5'],
    ['1.2.3.4:0', '1.2.3.4:0'],
    ['1.2.3.4:05', '1.2.3.4:5'],
    ['[FE80::AB]:5', '[fe80::ab]:5'],
    ['[::]:5', '[::]:5'],
    ['0.0.0.0:5', '0.0.0.0:5'],
    ['[fe80::1%lo]:5', '[fe80::1%lo]:5'],
  ];
  for (const [input, out] of cases) {
    const ep = parseEndpoint(input);
    assert.ok(ep, input);
    assert.is(formatEndpoint(ep), out, input);
    const d = await device();
    assert.is(await setReply(d, `public_key=${PUB}\nendpoint=${input}\n\n`), 'errno=0\n\n', input);
    assert.match(get(d), `\nendpoint=${out}\n`);
  }
  assert.equal(parseEndpoint('[fe80::1%eth0]:51820'), { addr: parseEndpoint('[fe80::1]:1')?.addr, zone: 'eth0', port: 51820 });
  for (const bad of ['', ':5', '1.2.3.4:', '[::1]', '[::1]x:5', '1.2.3.4%eth0:5', '[]:5', '1.2.3:5']) assert.is(parseEndpoint(bad), null, bad);
});

test('get formatting of counters, handshake time and several peers', async () => {
  const d = await device();
  await applySet(`public_key=${PUB}\nallowed_ip=10.0.0.1/32\npublic_key=${'11'.repeat(32)}\nendpoint=[2001:db8::1]:51820\n\n`, d);
  const p = d.peer(PUB);
  p.lastHandshakeTimeSec = 1700000000;
  p.lastHandshakeTimeNsec = 123456789;
  p.txBytes = 2 ** 40 + 3;
  p.rxBytes = 92;
  assert.is(
    get(d),
    `private_key=${PRIV}\nlisten_port=51820\n` +
      `public_key=${PUB}\npreshared_key=${ZERO}\nprotocol_version=1\n` +
      'last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\ntx_bytes=1099511627779\nrx_bytes=92\n' +
      'persistent_keepalive_interval=0\nallowed_ip=10.0.0.1/32\n' +
      `public_key=${'11'.repeat(32)}\npreshared_key=${ZERO}\nprotocol_version=1\nendpoint=[2001:db8::1]:51820\n` +
      'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n',
  );
  assert.throws(() => formatGet({ listenPort: 0, fwmark: 0, privateKey: new Uint8Array(31).fill(1), peers: [] }), /32 bytes/);
});

test.run();
