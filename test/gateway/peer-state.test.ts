// Peers over time (gateway/peer-state.ts) and project names (gateway/project.ts): who is active at a
// given time, the next expiry a running gateway arms its timer for, the --expires forms, and the
// names every client config of a project gets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PeerConfig, WgtsConfig } from '../../src/config/model.js';
import { emptyInterface } from '../../src/config/parse.js';
import { activeConfig, inactivePeers, nextExpiry, parseExpiresOption, peerState } from '../../src/gateway/peer-state.js';
import { projectConfName, projectIfname, projectName, projectNameFromFile } from '../../src/gateway/project.js';

const T = Date.UTC(2026, 5, 1, 12);
const peer = (name: string, extra: Partial<PeerConfig> = {}): PeerConfig => ({ name, publicKey: name.padEnd(43, 'A') + '=', allowedIPs: [], allow: [], ...extra });

test('state: disabled wins, expired from the Expires time on, else active; the next expiry of an active peer', () => {
  assert.is(peerState(peer('a'), T), 'active');
  assert.is(peerState(peer('a', { expires: T }), T), 'expired', 'expired at the very time');
  assert.is(peerState(peer('a', { expires: T + 1 }), T), 'active');
  assert.is(peerState(peer('a', { disabled: true, expires: T - 1 }), T), 'disabled');
  const c: WgtsConfig = { interface: emptyInterface(), peers: [peer('a'), peer('b', { expires: T + 5000 }), peer('c', { expires: T + 1000 }), peer('d', { expires: T - 1 }), peer('e', { disabled: true, expires: T + 10 })] };
  assert.equal(activeConfig(c, T).peers.map((p) => p.name), ['a', 'b', 'c']);
  assert.is(activeConfig({ ...c, peers: [peer('a')] }, T).peers.length, 1);
  assert.equal(inactivePeers(c, T).map((x) => [x.peer.name, x.state]), [['d', 'expired'], ['e', 'disabled']]);
  assert.is(nextExpiry(c, T), T + 1000, 'the earliest future expiry of a peer not disabled');
  assert.is(nextExpiry(c, T + 5000), null);
});

test('--expires: dates, times, durations from now, never; anything else names the accepted forms', () => {
  assert.is(parseExpiresOption('2026-12-31', T), Date.UTC(2026, 11, 31));
  assert.is(parseExpiresOption('2026-12-31T18:00:00Z', T), Date.UTC(2026, 11, 31, 18));
  assert.is(parseExpiresOption('90d', T), T + 90 * 86_400_000);
  assert.is(parseExpiresOption('+12h', T), T + 12 * 3_600_000);
  assert.is(parseExpiresOption('2w', T), T + 14 * 86_400_000);
  assert.is(parseExpiresOption('45s', T), T + 45_000);
  assert.is(parseExpiresOption('NEVER', T), 'never');
  const bad = parseExpiresOption('soon', T);
  assert.ok(typeof bad === 'object' && /a duration from now \(90d, 12h, 30m, 2w\) or never/.test(bad.error));
});

test('project names: from the file name, interface names of at most 15 characters that stay apart', () => {
  assert.is(projectNameFromFile('/etc/wireguard/Shop_Prod.conf'), 'shop-prod');
  assert.is(projectNameFromFile('/x/--.conf'), 'wgts');
  assert.is(projectName({ interface: emptyInterface(), peers: [], gateway: { name: 'blog', networks: [], hosts: [], masquerade: true } }, '/x/gw0.conf'), 'blog');
  assert.is(projectName({ interface: emptyInterface(), peers: [] }, '/x/gw0.conf'), 'gw0', 'files of older versions: the file name');
  assert.is(projectIfname('shop'), 'shop');
  assert.is(projectIfname('exactly-15-char'), 'exactly-15-char');
  const a = projectIfname('customer-portal-eu');
  const b = projectIfname('customer-portal-us');
  assert.match(a, /^customer-p-[0-9a-f]{4}$/);
  assert.is.not(a, b, 'a shared prefix still gives two names');
  assert.ok(a.length <= 15);
  assert.is(projectConfName('customer-portal-eu'), `${a}.conf`);
});

test.run();
