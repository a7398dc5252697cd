// What a UAPI set operation sends when it ends (wireguard-go's handlePostConfig): packets staged
// for a peer leave when its block ends, and packets staged before there was a private key leave
// when a set operation sets one, instead of waiting for a retransmit timer (or, before this, for
// ever). Checked with a wgts interface A against wireguard-go and wgts peers B, and printed for
// Debian's wireguard-go as A for comparison. Staged here: the keepalive of a persistent keepalive
// configured while A has no private key yet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns, sleep, waitFor } from '../helpers/netns.js';
import { type Impl, dump, genkey, secretFile, startDaemon, uniqueIfname, wg } from '../helpers/wg.js';

type How = 'peer block' | 'private key only';

/**
 * A peer with endpoint and persistent keepalive configured on A before A has a private key; then
 * `wg set` gives A its key (`how`: with an empty block for the peer, or the key alone). Returns the
 * ms until B saw the handshake, or -1 when it did not within `limitMs`.
 */
async function timeToHandshake(implA: Impl, implB: Impl, how: How, limitMs: number): Promise<number> {
  const nsA = new Netns('pa');
  const nsB = new Netns('pb');
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.86.0.1/24'] }, { ifname: 'vb', addrs: ['10.86.0.2/24'] });
    const a = await startDaemon(implA, nsA, uniqueIfname('pa'), { LOG_LEVEL: 'error' });
    const b = await startDaemon(implB, nsB, uniqueIfname('pb'), { LOG_LEVEL: 'error' });
    const ka = genkey(), kb = genkey();
    wg(b, ['set', b.ifname, 'private-key', secretFile(kb.priv), 'listen-port', '51821', 'peer', ka.pub, 'allowed-ips', '10.87.0.1/32']);
    nsA.exec('ip', ['link', 'set', a.ifname, 'up']);
    nsB.exec('ip', ['link', 'set', b.ifname, 'up']);
    wg(a, ['set', a.ifname, 'listen-port', '51820', 'peer', kb.pub, 'allowed-ips', '10.87.0.2/32', 'endpoint', '10.86.0.2:51821', 'persistent-keepalive', '25']);
    await sleep(500);
    assert.is(dump(b).peers.get(ka.pub)?.handshake, 0, 'no handshake without a private key');
    const t0 = Date.now();
    wg(a, ['set', a.ifname, 'private-key', secretFile(ka.priv), ...(how === 'peer block' ? ['peer', kb.pub] : [])]);
    let ms = -1;
    await waitFor(() => (dump(b).peers.get(ka.pub)?.handshake ?? 0) > 0, limitMs, 10, 'handshake')
      .then(() => { ms = Date.now() - t0; }, () => undefined);
    await a.stop();
    await b.stop();
    return ms;
  } finally {
    nsA.delete();
    nsB.delete();
  }
}

for (const how of ['peer block', 'private key only'] as const) {
  test(`staged packets leave when the set ends (${how}): wgts against wireguard-go and wgts, wireguard-go printed`, async () => {
    const reference = await timeToHandshake('wireguard-go', 'wireguard-go', how, 7000);
    for (const implB of ['wireguard-go', 'wgts'] as const) {
      const ms = await timeToHandshake('wgts', implB, how, 3000);
      console.log(`  ${how}: wgts -> ${implB}: handshake ${ms < 0 ? 'not within 3 s' : `after ${ms} ms`}; wireguard-go -> wireguard-go: ${reference < 0 ? 'not within 7 s' : `${reference} ms`}`);
      assert.ok(ms >= 0 && ms < 1000, `wgts sends what was staged when the set ends (${ms} ms)`);
    }
  });
}

test.run();
