// The pure TypeScript transport end to end: wgts-go on WGTS_CRYPTO=pure (its own ChaCha20-Poly1305
// sealing and opening in place in the device's slabs) against Debian's wireguard-go in network
// namespaces: handshake, ping both ways, and TCP both ways (iperf3 checks nothing, but TCP itself
// would stall on a single corrupted segment; the byte-exact checks are the crypto tests').

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns, waitFor } from '../helpers/netns.js';
import { genkey, iperf, ping, secretFile, startDaemon, uniqueIfname, wg, type Daemon } from '../helpers/wg.js';

test('wgts-go with WGTS_CRYPTO=pure <-> wireguard-go: handshake, ping and TCP both ways', async () => {
  const nsA = new Netns('pa');
  const nsB = new Netns('pb');
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.77.0.1/24'] }, { ifname: 'vb', addrs: ['10.77.0.2/24'] });
    a = await startDaemon('wgts', nsA, uniqueIfname('pa'), { WGTS_CRYPTO: 'pure' });
    b = await startDaemon('wireguard-go', nsB, uniqueIfname('pb'));
    const ka = genkey();
    const kb = genkey();
    wg(a, ['set', a.ifname, 'private-key', secretFile(ka.priv), 'listen-port', '51820', 'peer', kb.pub, 'allowed-ips', '10.78.0.2/32', 'endpoint', '10.77.0.2:51821']);
    wg(b, ['set', b.ifname, 'private-key', secretFile(kb.priv), 'listen-port', '51821', 'peer', ka.pub, 'allowed-ips', '10.78.0.1/32', 'endpoint', '10.77.0.1:51820']);
    for (const [ns, d, addr] of [[nsA, a, '10.78.0.1'], [nsB, b, '10.78.0.2']] as const) {
      ns.exec('ip', ['addr', 'add', `${addr}/24`, 'dev', d.ifname]);
      ns.exec('ip', ['link', 'set', d.ifname, 'mtu', '1420', 'up']);
    }
    assert.match(a.log(), /crypto: pure/, 'the daemon runs the pure backend');
    assert.ok(await waitFor(() => ping(nsA, '10.78.0.2'), 10_000, 100, 'ping A->B'), 'handshake and ping A->B');
    assert.ok(ping(nsB, '10.78.0.1', { count: 3, size: 1392 }), 'full-size pings B->A');
    const up = await iperf(nsB, nsA, '10.78.0.2', 2, false);
    const down = await iperf(nsB, nsA, '10.78.0.2', 2, true);
    console.log(`  pure <-> wireguard-go: TCP ${(up / 1e6).toFixed(0)} / ${(down / 1e6).toFixed(0)} Mbit/s`);
    assert.ok(up > 10e6 && down > 10e6, 'TCP flows both ways');
  } finally {
    await a?.stop();
    await b?.stop();
    nsA.delete();
    nsB.delete();
  }
});

test.run();
