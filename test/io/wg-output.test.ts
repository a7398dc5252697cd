// The real interface (wgts-go) and Debian's wireguard-go, configured with the same `wg` commands,
// must print the same thing for every `wg show` view, `wg showconf`, after `wg setconf`,
// `wg syncconf` and `wg set`. Each daemon runs in its own namespace; endpoints point at addresses
// with no route there, so nothing leaves the namespaces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns } from '../helpers/netns.js';
import { type Daemon, genkey, secretFile, startDaemon, uniqueIfname, wg } from '../helpers/wg.js';

const key = genkey();
const peers = [genkey(), genkey(), genkey()];
const psk = genkey().priv; // any 32 random bytes in base64

const conf1 = `[Interface]
PrivateKey = ${key.priv}
ListenPort = 51999
FwMark = 0x2a

[Peer]
PublicKey = ${peers[0]?.pub}
PresharedKey = ${psk}
AllowedIPs = 10.90.0.2/32, 10.91.0.0/16, fd90::2/128
Endpoint = 10.99.0.2:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ${peers[1]?.pub}
AllowedIPs = 10.90.0.3/32, 10.92.1.7/24
Endpoint = [fd99::3]:51821

[Peer]
PublicKey = ${peers[2]?.pub}
AllowedIPs = 0.0.0.0/1
`;

const conf2 = `[Interface]
PrivateKey = ${key.priv}
ListenPort = 51998

[Peer]
PublicKey = ${peers[0]?.pub}
AllowedIPs = 10.90.0.2/32
Endpoint = 10.99.0.2:51820

[Peer]
PublicKey = ${peers[2]?.pub}
AllowedIPs = 0.0.0.0/1, ::/1
`;

const VIEWS = [[], ['dump'], ['public-key'], ['private-key'], ['listen-port'], ['fwmark'], ['peers'], ['endpoints'],
  ['allowed-ips'], ['latest-handshakes'], ['persistent-keepalive'], ['preshared-keys'], ['transfer']];

/**
 * wireguard-go lists peers in Go map order (random) and wg keeps ties in that order, so peer
 * order is not comparable: compare the set of peer blocks (or lines).
 */
function unordered(text: string): string {
  const parts = text.includes('\n\n') ? text.split('\n\n') : text.split('\n');
  return parts.map((p) => p.trim()).filter(Boolean).sort().join('\n--\n');
}

function views(d: Daemon): string[] {
  const out = VIEWS.map((v) => unordered(wg(d, ['show', d.ifname, ...v]).split(d.ifname).join('IF')));
  out.push(unordered(wg(d, ['showconf', d.ifname])));
  return out;
}

function same(a: Daemon, b: Daemon, when: string): void {
  const va = views(a), vb = views(b);
  for (let i = 0; i < va.length; i++) {
    const what = i < VIEWS.length ? `wg show ${(VIEWS[i] ?? []).join(' ')}` : 'wg showconf';
    assert.fixture(va[i] as string, vb[i] as string, `${when}: ${what}`);
  }
}

test('wg show / showconf / setconf / syncconf / set give the same output as against wireguard-go', async () => {
  const nsA = new Netns('outa');
  const nsB = new Netns('outb');
  try {
    const ours = await startDaemon('wgts', nsA, uniqueIfname('oa'));
    const ref = await startDaemon('wireguard-go', nsB, uniqueIfname('ob'));
    const f1 = secretFile(conf1);
    for (const d of [ours, ref]) wg(d, ['setconf', d.ifname, f1]);
    same(ours, ref, 'after setconf');
    assert.match(wg(ours, ['show', ours.ifname, 'fwmark']), /0x2a/);

    const f2 = secretFile(conf2);
    for (const d of [ours, ref]) wg(d, ['syncconf', d.ifname, f2]);
    same(ours, ref, 'after syncconf');

    for (const d of [ours, ref]) {
      wg(d, ['set', d.ifname, 'fwmark', '0', 'peer', peers[1]?.pub ?? '', 'allowed-ips', '10.93.0.0/24,fd93::/64', 'persistent-keepalive', '7',
        'peer', peers[2]?.pub ?? '', 'remove', 'peer', peers[0]?.pub ?? '', 'preshared-key', secretFile(`${psk}\n`)]);
    }
    same(ours, ref, 'after wg set');

    const showconf = wg(ours, ['showconf', ours.ifname]);
    for (const d of [ours, ref]) wg(d, ['setconf', d.ifname, secretFile(showconf)]);
    same(ours, ref, 'after setconf of our own showconf');
    await ours.stop();
    await ref.stop();
  } finally {
    nsA.delete();
    nsB.delete();
  }
});

test.run();
