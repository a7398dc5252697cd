// `wgts ha kick IFNAME [--endpoints FILE]` through the real CLI against a gateway-side interface of
// wgts-go and of Debian's wireguard-go (standard UAPI only): the gateway knows its peer's key but
// not where it is; the kick takes the endpoint from the file, the handshake completes at once, and
// the peer's persistent keepalive is what it was before (off, or its own interval).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PORT_B, startPair, type Pair } from '../../helpers/pair.js';
import { dump, secretFile, wg, type Impl } from '../../helpers/wg.js';
import { wgts } from '../../helpers/up.js';

/** A pair whose side A (the "gateway") has B as a peer without an endpoint and without a session. */
async function gatewayWithoutEndpoint(impl: Impl): Promise<Pair> {
  const p = await startPair({ impl }, { impl: 'wireguard-go' });
  wg(p.a, ['set', p.a.ifname, 'peer', p.keyB.pub, 'remove']);
  wg(p.a, ['set', p.a.ifname, 'peer', p.keyB.pub, 'allowed-ips', '10.78.0.2/32']);
  return p;
}

for (const impl of ['wgts', 'wireguard-go'] as const) {
  test(`kick on ${impl}: nothing known, then the endpoint from the file: handshake, keepalive left as it was`, async () => {
    const p = await gatewayWithoutEndpoint(impl);
    try {
      const none = wgts(['ha', 'kick', p.a.ifname, '--wait', '0']);
      assert.is(none.status, 0, none.stderr);
      assert.is(none.stdout, `${p.a.ifname}: no peer with a known endpoint: nothing to kick\n${p.a.ifname}: 1 peer(s) without a known endpoint: they come back by their own timers (within about 15 s of sending)\n`);
      assert.is(dump(p.a).peers.get(p.keyB.pub)?.handshake, 0);

      const bad = wgts(['ha', 'kick', p.a.ifname, '--endpoints', secretFile(`${p.keyB.pub}\n`)]);
      assert.is(bad.status, 1);
      assert.match(bad.stderr, /^wgts: \/.*:1: expected PUBLIC_KEY HOST:PORT/);

      const file = secretFile(`${p.keyB.pub}\t10.77.0.2:${PORT_B}\n`);
      const r = wgts(['ha', 'kick', p.a.ifname, '--endpoints', file]);
      assert.is(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${p.a.ifname}: ${p.keyB.pub.slice(0, 8).replace(/[+/]/g, '\\$&')}\\.\\.\\. at 10\\.77\\.0\\.2:${PORT_B} \\(from the endpoints file\\): handshake in [0-9]+ ms\\n$`));
      const a = dump(p.a).peers.get(p.keyB.pub);
      assert.ok((a?.handshake ?? 0) > 0, 'the gateway side has a session');
      assert.is(a?.endpoint, `10.77.0.2:${PORT_B}`);
      assert.is(a?.keepalive, 'off', 'persistent keepalive back off');
      assert.ok((dump(p.b).peers.get(p.keyA.pub)?.handshake ?? 0) > 0, 'the peer answered it');

      // A peer with its own persistent keepalive keeps it; the endpoint known to the interface wins over the file.
      wg(p.a, ['set', p.a.ifname, 'peer', p.keyB.pub, 'persistent-keepalive', '25']);
      const again = wgts(['ha', 'kick', p.a.ifname, '--endpoints', secretFile(`${p.keyB.pub}\t10.77.0.99:1\n`), '--wait', '0']);
      assert.is(again.status, 0, again.stderr);
      assert.match(again.stdout, ` at 10.77.0.2:${PORT_B}: `);
      assert.is(dump(p.a).peers.get(p.keyB.pub)?.keepalive, '25');
    } finally {
      await p.close();
    }
  });
}

test('kick: an interface that does not exist is an error naming it', () => {
  const r = wgts(['ha', 'kick', 'wgtsnosuchif0']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^wgts: wgtsnosuchif0: /);
});

test.run();
