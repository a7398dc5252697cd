// `wgts show --watch` without a terminal (gateway/watch.ts): rates between two looks (bytes from
// UAPI, packets from the status file, which is rewritten once a second: a look that finds it not
// rewritten keeps the last packet rates), a counter that went backwards (a re-added peer) is no
// rate, and the screen and plain lines carry what a person needs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ShowInterface, ShowPeer } from '../../src/gateway/show.js';
import { computeRates, prettyBits, prettyRate, renderPlain, renderScreen, shortAge, type WatchSample } from '../../src/gateway/watch.js';

const peer = (o: Partial<ShowPeer>): ShowPeer => ({ publicKey: 'K'.repeat(43) + '=', name: 'alice', hasPresharedKey: true, endpoint: '10.200.0.10:4000', allowedIps: [], latestHandshake: 1000, rxBytes: 0, txBytes: 0, persistentKeepalive: 25, denied: 0, refused: 0, rxPackets: 0, txPackets: 0, ...o });
const iface = (peers: ShowPeer[], statusUpdated: number | null, o: Partial<ShowInterface> = {}): ShowInterface => ({ name: 'gw0', publicKey: 'P', listenPort: 51820, fwmark: 0, config: '/gw0.conf', counters: { filtered: 3, outboundFiltered: 1 }, reload: null, peers, inactive: [], statusUpdated, ...o });
const sample = (at: number, i: ShowInterface): WatchSample => ({ at, interfaces: [i] });

test('rates: bit/s from bytes over the look interval, packets/s over the status file interval; kept when it was not rewritten', () => {
  const a = sample(0, iface([peer({ rxBytes: 1000, txBytes: 0, rxPackets: 10, txPackets: 0 })], 5000));
  const b = sample(500, iface([peer({ rxBytes: 126_000, txBytes: 500, rxPackets: 110, txPackets: 5 })], 6000));
  const r1 = computeRates(a, b);
  assert.equal(r1.get(`gw0/${'K'.repeat(43)}=`), { rxBitsPerSecond: 2_000_000, txBitsPerSecond: 8000, rxPacketsPerSecond: 100, txPacketsPerSecond: 5 });
  const c = sample(1000, iface([peer({ rxBytes: 126_000, txBytes: 500, rxPackets: 150, txPackets: 5 })], 6000));
  const r2 = computeRates(b, c, r1);
  assert.equal(r2.get(`gw0/${'K'.repeat(43)}=`), { rxBitsPerSecond: 0, txBitsPerSecond: 0, rxPacketsPerSecond: 100, txPacketsPerSecond: 5 }, 'the status file was not rewritten: packet rates kept');
  const reset = sample(1500, iface([peer({ rxBytes: 10, txBytes: 0, rxPackets: 1, txPackets: 0 })], 7000));
  assert.equal(computeRates(c, reset).get(`gw0/${'K'.repeat(43)}=`), { rxBitsPerSecond: null, txBitsPerSecond: null, rxPacketsPerSecond: null, txPacketsPerSecond: null }, 'counters that went back are no rate');
  const first = computeRates(null, a).get(`gw0/${'K'.repeat(43)}=`);
  assert.equal(first, { rxBitsPerSecond: null, txBitsPerSecond: null, rxPacketsPerSecond: null, txPacketsPerSecond: null });
  const noStatus = computeRates(sample(0, iface([peer({ rxPackets: null, txPackets: null })], null)), sample(1000, iface([peer({ rxBytes: 100, rxPackets: null, txPackets: null })], null)));
  assert.equal(noStatus.get(`gw0/${'K'.repeat(43)}=`)?.rxPacketsPerSecond, null, 'wireguard-go: no packet counters');
});

test('units', () => {
  assert.equal([prettyBits(null), prettyBits(0), prettyBits(850), prettyBits(12_345), prettyBits(1_204_000), prettyBits(250_000_000), prettyBits(2.5e9)],
    ['-', '0 bit/s', '850 bit/s', '12.3 kbit/s', '1.20 Mbit/s', '250 Mbit/s', '2.50 Gbit/s']);
  assert.equal([prettyRate(null), prettyRate(0), prettyRate(0.5), prettyRate(37.4), prettyRate(1234), prettyRate(45_600)], ['-', '0', '0.5', '37', '1.2k', '46k']);
  assert.equal([shortAge(0, 100), shortAge(90, 100), shortAge(100, 400), shortAge(0 + 1, 3 * 3600 + 1), shortAge(1, 3 * 86400 + 1)], ['never', '10 s', '5 min', '3 h', '3 d']);
});

test('screen and plain lines: online within 3 minutes, rates, denied and refused, inactive peers last', () => {
  const now = 10_000;
  const peers = [peer({ latestHandshake: now - 30, rxBytes: 2048, txBytes: 1024, denied: 2 }), peer({ publicKey: 'B'.repeat(43) + '=', name: 'bob', latestHandshake: now - 200, endpoint: null })];
  const s = sample(1000, iface(peers, 1, { inactive: [{ publicKey: 'C'.repeat(43) + '=', name: 'carol', state: 'disabled', expires: null }] }));
  const rates = new Map([[`gw0/${'K'.repeat(43)}=`, { rxBitsPerSecond: 1_200_000, txBitsPerSecond: 56_000, rxPacketsPerSecond: 104, txPacketsPerSecond: 80 }]]);
  const screen = renderScreen(s, rates, { intervalMs: 1000, nowSec: now, clock: 'CLOCK' });
  assert.is(screen[0], 'wgts show --watch   every 1 s   CLOCK   (q or Ctrl-C quits)');
  assert.is(screen[2], 'interface gw0: port 51820, 2 peers (1 online), 1 off, denied 3, refused 1');
  assert.match(screen[3], /^PEER\s+STATE\s+HANDSHAKE\s+ENDPOINT\s+RX\s+TX\s+RX PKT\/S\s+TX PKT\/S\s+DENIED\s+REFUSED\s+TOTAL RX \/ TX$/);
  assert.match(screen[4], /^alice\s+online\s+30 s\s+10\.200\.0\.10:4000\s+1\.20 Mbit\/s\s+56\.0 kbit\/s\s+104\s+80\s+2\s+0\s+2\.00 KiB \/ 1\.00 KiB$/);
  assert.match(screen[5], /^bob\s+offline\s+3 min\s+-\s+-\s+-\s+-\s+-\s+0\s+0\s+0 B \/ 0 B$/);
  assert.match(screen[6], /^carol\s+disabled(\s+-)+$/);
  const plain = renderPlain(s, rates, { nowSec: now, clock: 'CLOCK' });
  assert.is(plain[0], 'CLOCK gw0 alice state=online handshake=30s endpoint=10.200.0.10:4000 rx=1.20Mbit/s tx=56.0kbit/s rx_pps=104 tx_pps=80 denied=2 refused=0 rx_bytes=2048 tx_bytes=1024');
  assert.match(plain[1], /^CLOCK gw0 bob state=offline handshake=200s endpoint=- rx=- /);
  assert.is(plain[2], `CLOCK gw0 carol state=disabled`);
});

test.run();
