// The pure TypeScript transport end to end: wgts-go on WGTS_CRYPTO=pure (its own ChaCha20-Poly1305
// sealing and opening in place in the device's slabs) against Debian's wireguard-go in network
// namespaces: handshake, ping both ways, and TCP both ways (iperf3 checks nothing, but TCP itself
// would stall on a single corrupted segment; the byte-exact checks are the crypto tests').

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/netns.js';
import { A4, B4, startPair } from '../helpers/pair.js';
import { iperf, ping } from '../helpers/wg.js';

test('wgts-go with WGTS_CRYPTO=pure <-> wireguard-go: handshake, ping and TCP both ways', async () => {
  const p = await startPair({ impl: 'wgts', env: { WGTS_CRYPTO: 'pure' } }, { impl: 'wireguard-go' });
  try {
    const { nsA, nsB, a } = p;
    assert.match(a.log(), /crypto: pure/, 'the daemon runs the pure backend');
    assert.ok(await waitFor(() => ping(nsA, B4), 10_000, 100, 'ping A->B'), 'handshake and ping A->B');
    assert.ok(ping(nsB, A4, { count: 3, size: 1392 }), 'full-size pings B->A');
    const up = await iperf(nsB, nsA, B4, 2, false);
    const down = await iperf(nsB, nsA, B4, 2, true);
    console.log(`  pure <-> wireguard-go: TCP ${(up / 1e6).toFixed(0)} / ${(down / 1e6).toFixed(0)} Mbit/s`);
    assert.ok(up > 10e6 && down > 10e6, 'TCP flows both ways');
  } finally {
    await p.close();
  }
});

test.run();
