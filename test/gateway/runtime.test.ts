// `wgts up` end to end, the way a team uses it: a project network (app + db) behind a gateway
// namespace running `wgts up GW.conf` made with `wgts gateway init` + `wgts peer add`, and laptops
// in their own namespaces on an "internet" bridge: a wgts laptop (`wgts up laptop.conf`), a stock
// wg-quick + wireguard-go laptop, and a restricted one. Names resolve through the gateway's DNS,
// HTTP reaches app by host name, the project network has no route back to the tunnel (so every
// answer proves the masquerade), access rules hold, peers come and go live, and `wgts down`
// undoes everything. Pure helpers of the runtime are checked first.
//
// Interface names are unique per test process (UAPI sockets and status files are machine-wide).
// The laptops' /etc/netns/NAME/resolv.conf starts as a guard file pointing at 127.0.0.1 (nothing
// listens there), so no lookup can ever reach the host's resolvers; wgts must restore it on exit.
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import { diffConfigs } from '../../src/config/diff.js';
import type { WgtsConfig } from '../../src/config/model.js';
import { cidrsOverlap, currentNetnsName, NetConfig, parseRoutes, resolvConf, UndoStack } from '../../src/gateway/netcfg.js';
import { forwardBlockers, parseTag, ruleArgs, ruleTag, splitRule } from '../../src/gateway/iptables.js';
import { parseLocalAddresses } from '../../src/gateway/localaddr.js';
import { deviceSetBody, liveApplicable, reloadSetBody, removalSetBody, syncSetBody, withoutSecrets } from '../../src/gateway/reload.js';
import {
  checkUpConfig, covers, coversAddressSpace, dnsExemptionsOf, dnsTargetOf, endpointLoops, firewallRulesFor, masqueradeRulesFor, routesFor, subnetOf,
} from '../../src/gateway/plan.js';
import { showInterface } from '../../src/gateway/show.js';
import { readStatus, statusPath, type InterfaceStatus } from '../../src/gateway/status.js';
import { Netns, sleep, waitFor } from '../helpers/netns.js';
import { repoRoot, socketPath, uniqueIfname } from '../helpers/wg.js';
import { startUp, type UpProc, wgts, wgtsOk } from '../helpers/up.js';
import { GUARD_RESOLV_CONF, guardResolvConf, resolvPath, wgQuick } from '../helpers/stock-laptop.js';
import { internetBridge } from '../helpers/topology.js';

const PRIV = 'EN4an5hpf8oZAKGvsqGpt8EX3Sq0OIdPFpEcL/cFNWI=';
const KEY_A = 'E2BQCujzbmiDhCnqzhnXLkrb6MSUu2IoEaK528eMZRI=';
const KEY_B = 'd7Xdk6XjoGcnA9aP259FnsEu9zNC1va9aFzaceEZb3k=';

function parsed(text: string): WgtsConfig {
  const r = parseConfig(text, 'x.conf');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.config;
}

// ------------------------------------------------------------------ pure helpers

test('routes: AllowedIPs outside the interface subnets; full tunnel rejected; masquerade pairs', () => {
  const gw = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24, fd12::1/64\n\n[Gateway]\nNetwork = 10.124.0.0/24, 10.125.0.0/16, fd24::/64\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 10.123.0.2/32, fd12::2/128\n\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = 10.123.0.3/32, 192.168.7.0/24\n`);
  assert.equal(routesFor(gw), ['192.168.7.0/24']);
  assert.equal(masqueradeRulesFor(gw).map((r) => `${r.family} ${r.table} ${r.chain} ${r.spec.join(' ')}`), [
    '4 nat POSTROUTING -s 10.123.0.0/24 -d 10.124.0.0/24 -j MASQUERADE',
    '4 nat POSTROUTING -s 10.123.0.0/24 -d 10.125.0.0/16 -j MASQUERADE',
    '6 nat POSTROUTING -s fd12::/64 -d fd24::/64 -j MASQUERADE',
  ]);
  assert.equal(checkUpConfig(gw, 'gw.conf'), []);
  const laptop = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.2/32\nDNS = 10.123.0.1, zerops\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 10.124.0.0/24, 10.123.0.1/32\nEndpoint = 10.200.0.1:51820\n`);
  assert.equal(routesFor(laptop), ['10.124.0.0/24', '10.123.0.1/32']);
  assert.equal(masqueradeRulesFor(laptop), []);
  assert.equal(routesFor({ ...laptop, interface: { ...laptop.interface, table: 'off' } }), []);
  const full = parsed(`[Interface]\nPrivateKey = ${PRIV}\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 0.0.0.0/0\n`);
  assert.match(checkUpConfig(full, 'l.conf').join('\n'), /^l\.conf:4: AllowedIPs 0\.0\.0\.0\/0 .*full tunnel/);
  const hooks = parsed(`[Interface]\nPrivateKey = ${PRIV}\nPostUp = echo hi\nTable = 1234\n`);
  assert.equal(checkUpConfig(hooks, 'h.conf'), ['h.conf: PostUp hooks are not supported by wgts up', 'h.conf: Table = 1234 is not supported by wgts up (only auto or off)']);
  assert.equal(dnsTargetOf(gw), { address: '10.123.0.1', port: 53 });
  // DNS listens on every tunnel address: the access rules let each through, not only the one
  // client configs name (a laptop may ask the IPv6 one)
  assert.equal(dnsExemptionsOf(gw), [{ address: '10.123.0.1', port: 53 }, { address: 'fd12::1', port: 53 }]);
  const only = (listen: string): WgtsConfig => ({ ...gw, gateway: { ...(gw.gateway as NonNullable<WgtsConfig['gateway']>), listenDns: { host: listen, port: 53 } } });
  assert.equal(dnsExemptionsOf(only('0.0.0.0')), [{ address: '10.123.0.1', port: 53 }]);
  assert.equal(dnsExemptionsOf(only('::')), [{ address: '10.123.0.1', port: 53 }, { address: 'fd12::1', port: 53 }]);
  assert.equal(dnsExemptionsOf(only('fd12::1')), [{ address: 'fd12::1', port: 53 }]);
  assert.equal(dnsExemptionsOf(laptop), []);
  assert.is(dnsTargetOf(laptop), null);
  const masqOff = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\nMasquerade = false\n`);
  assert.equal(masqueradeRulesFor(masqOff), []);
  assert.is(subnetOf({ family: 4, address: '10.123.0.77', prefix: 20 }), '10.123.0.0/20');
  assert.ok(covers({ family: 4, address: '10.123.0.1', prefix: 24 }, { family: 4, address: '10.123.0.128', prefix: 25 }));
  assert.not.ok(covers({ family: 4, address: '10.123.0.1', prefix: 24 }, { family: 4, address: '10.123.0.0', prefix: 23 }));
  assert.not.ok(covers({ family: 4, address: '10.123.0.1', prefix: 24 }, { family: 6, address: '::', prefix: 120 }));
});

test('full tunnels in any spelling are refused; a peer whose Endpoint is inside its routes is a loop', () => {
  const v4 = (a: string, p: number): { family: 4; address: string; prefix: number } => ({ family: 4, address: a, prefix: p });
  const v6 = (a: string, p: number): { family: 6; address: string; prefix: number } => ({ family: 6, address: a, prefix: p });
  assert.ok(coversAddressSpace([v4('0.0.0.0', 1), v4('128.0.0.0', 1)], 4));
  assert.ok(coversAddressSpace([v4('0.0.0.0', 2), v4('64.0.0.0', 2), v4('128.0.0.0', 1), v4('10.0.0.0', 8)], 4));
  assert.not.ok(coversAddressSpace([v4('0.0.0.0', 1), v4('128.0.0.0', 2)], 4), 'a quarter missing');
  assert.not.ok(coversAddressSpace([v4('0.0.0.0', 1), v4('128.0.0.0', 1)], 6), 'other family');
  assert.ok(coversAddressSpace([v6('::', 1), v6('8000::', 1)], 6));
  assert.ok(coversAddressSpace([v6('::', 0)], 6));
  assert.not.ok(coversAddressSpace([v6('::', 1), v6('8000::', 2)], 6));
  const split = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.2/32\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 0.0.0.0/1, 128.0.0.0/1\nEndpoint = 10.200.0.1:51820\n`);
  assert.match(checkUpConfig(split, 'l.conf').join('\n'), /^l\.conf:5: AllowedIPs 0\.0\.0\.0\/1, 128\.0\.0\.0\/1 together cover every IPv4 address: a full tunnel/);
  const split6 = parsed(`[Interface]\nPrivateKey = ${PRIV}\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = ::/1\n\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = 8000::/1\n`);
  assert.match(checkUpConfig(split6, 'l.conf').join('\n'), /every IPv6 address: a full tunnel/, 'two peers together');
  const loop = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.2/32\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 10.200.0.0/16\nEndpoint = 10.200.0.1:51820\n`);
  assert.match(endpointLoops(loop, new Map([[KEY_A, '10.200.0.1:51820']]), 'l.conf').join('\n'), /^l\.conf:5: the Endpoint 10\.200\.0\.1:51820 of peer .* is inside its AllowedIPs 10\.200\.0\.0\/16/);
  assert.equal(endpointLoops(loop, new Map([[KEY_A, '10.201.0.1:51820']]), 'l.conf'), []);
});

test('gateway firewall rules: masquerade, FORWARD accepts (inbound ones only with AllowInbound), INPUT for DNS; tags', () => {
  const gw = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24\nListenPort = 51820\n\n[Gateway]\nNetwork = 10.124.0.0/24\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 10.123.0.2/32\n`);
  const text = (c: WgtsConfig): string[] => firewallRulesFor(c, 'gw0', [{ address: '10.123.0.1', port: 53 }]).map((r) => `${r.table} ${r.chain} ${r.spec.join(' ')}`);
  assert.equal(text(gw), [
    'nat POSTROUTING -s 10.123.0.0/24 -d 10.124.0.0/24 -j MASQUERADE',
    'filter FORWARD -i gw0 -d 10.124.0.0/24 -j ACCEPT',
    'filter FORWARD -o gw0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'filter INPUT -p udp -m udp --dport 51820 -j ACCEPT',
    'filter INPUT -p udp -m udp --dport 51820 -j ACCEPT',
    'filter INPUT -i gw0 -d 10.123.0.1 -p udp -m udp --dport 53 -j ACCEPT',
    'filter INPUT -i gw0 -d 10.123.0.1 -p tcp -m tcp --dport 53 -j ACCEPT',
  ]);
  const inbound = { ...gw, peers: gw.peers.map((p) => ({ ...p, allowInbound: ['8080/tcp'] })) };
  assert.ok(text(inbound).includes('filter FORWARD -o gw0 -s 10.124.0.0/24 -j ACCEPT'));
  const [fwd] = firewallRulesFor(gw, 'gw0', []).filter((r) => r.chain === 'FORWARD');
  assert.equal(ruleArgs(fwd, 'wgts:gw0:42', 'add'), ['-w', '5', '-t', 'filter', '-I', 'FORWARD', '1', '-i', 'gw0', '-d', '10.124.0.0/24', '-j', 'ACCEPT', '-m', 'comment', '--comment', 'wgts:gw0:42']);
  assert.is(ruleTag('gw0', 42), 'wgts:gw0:42');
  assert.equal(parseTag('wgts:gw0:42'), { ifname: 'gw0', pid: 42 });
  assert.equal(parseTag('wgts:gw0'), { ifname: 'gw0', pid: null }, 'rules of older versions');
  assert.is(parseTag('docker'), null);
});

test('host facts: routes of `ip -j route`, overlaps, local addresses, nftables chains that drop forwarding', () => {
  const routes = parseRoutes('[{"dst":"default","gateway":"192.168.1.1","dev":"eth0"},{"dst":"10.124.0.0/16","dev":"eth0","protocol":"kernel"},{"dst":"172.17.0.1","dev":"docker0"},{"type":"unreachable","dst":"10.9.0.0/24"}]', 4);
  assert.equal(routes.map((r) => r.text), ['0.0.0.0/0 dev eth0', '10.124.0.0/16 dev eth0 proto kernel', '172.17.0.1/32 dev docker0', 'unreachable 10.9.0.0/24']);
  assert.ok(cidrsOverlap({ family: 4, address: '10.124.0.0', prefix: 24 }, { family: 4, address: '10.124.0.0', prefix: 16 }));
  assert.ok(cidrsOverlap({ family: 4, address: '10.0.0.0', prefix: 8 }, { family: 4, address: '10.124.5.0', prefix: 24 }));
  assert.not.ok(cidrsOverlap({ family: 4, address: '10.124.0.0', prefix: 24 }, { family: 4, address: '10.125.0.0', prefix: 24 }));
  assert.equal(parseLocalAddresses('[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"},{"family":"inet6","local":"::1"}]},{"ifname":"eth0","addr_info":[{"family":"inet6","local":"fe80::1"}]}]'),
    ['127.0.0.1', '::1', 'fe80::1']);
  const nft = (policy: string, extra = ''): string => JSON.stringify({ nftables: [
    { chain: { family: 'inet', table: 'filter', name: 'forward', hook: 'forward', policy } },
    ...(extra ? [{ rule: { family: 'inet', table: 'filter', chain: 'forward', expr: [{ match: { left: { meta: { key: 'iifname' } }, right: extra } }, { accept: null }] } }] : []),
    { chain: { family: 'ip', table: 'filter', name: 'FORWARD', hook: 'forward', policy: 'drop' } },
  ] });
  const blocked = forwardBlockers(nft('drop'), 'gw0');
  assert.is(blocked.length, 1, 'iptables-nft\'s own ip filter FORWARD is handled with iptables rules');
  assert.match(blocked[0], "the nftables chain 'forward' of table 'inet filter' (hook forward) drops forwarded packets by default");
  assert.match(blocked[0], 'nft insert rule inet filter forward iifname "gw0" accept');
  assert.equal(forwardBlockers(nft('accept'), 'gw0'), []);
  assert.equal(forwardBlockers(nft('drop', 'gw0'), 'gw0'), [], 'a table that lets gw0 through');
  assert.is(forwardBlockers(nft('drop', 'gw1'), 'gw0').length, 1);
  assert.equal(forwardBlockers('not json', 'gw0'), []);
});

test('UAPI bodies: whole config at start; only the difference on reload (remove wipes, update_only changes)', () => {
  const a = parsed(`[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n\n[Peer]\nName = alice\nPublicKey = ${KEY_A}\nAllowedIPs = 10.123.0.2/32\n`);
  const hexA = Buffer.from(KEY_A, 'base64').toString('hex');
  const hexB = Buffer.from(KEY_B, 'base64').toString('hex');
  assert.is(deviceSetBody(a, new Map()), `private_key=${Buffer.from(PRIV, 'base64').toString('hex')}\nlisten_port=51820\nfwmark=0\nreplace_peers=true\npublic_key=${hexA}\npreshared_key=${'0'.repeat(64)}\nreplace_allowed_ips=true\nallowed_ip=10.123.0.2/32\npersistent_keepalive_interval=0\n\n`);
  const b = parsed(`[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51820\n\n[Peer]\nName = bob\nPublicKey = ${KEY_B}\nEndpoint = laptop.example:4000\nAllowedIPs = 10.123.0.3/32\n`);
  assert.is(reloadSetBody(diffConfigs(a, b), b, new Map([[KEY_B, '10.200.0.12:4000']])), `public_key=${hexA}\nremove=true\npublic_key=${hexB}\npreshared_key=${'0'.repeat(64)}\nendpoint=10.200.0.12:4000\nreplace_allowed_ips=true\nallowed_ip=10.123.0.3/32\npersistent_keepalive_interval=0\n\n`);
  const b2 = parsed(`[Interface]\nPrivateKey = ${PRIV}\nListenPort = 51821\n\n[Peer]\nName = bobby\nPublicKey = ${KEY_B}\nEndpoint = laptop.example:4000\nAllowedIPs = 10.123.0.3/32, 10.9.0.0/16\nAllow = 10.124.0.10/32\n`);
  assert.is(reloadSetBody(diffConfigs(b, b2), b2, new Map()), `listen_port=51821\npublic_key=${hexB}\nupdate_only=true\nreplace_allowed_ips=true\nallowed_ip=10.123.0.3/32\nallowed_ip=10.9.0.0/16\n\n`);
  assert.is(reloadSetBody(diffConfigs(b2, { ...b2, peers: b2.peers.map((p) => ({ ...p, name: 'x', allow: [], allowInbound: ['22'] })) }), b2, new Map()), '', 'Name, Allow and AllowInbound are not device settings');
  assert.is(removalSetBody([KEY_A, KEY_B]), `public_key=${hexA}\nremove=true\npublic_key=${hexB}\nremove=true\n\n`);
  assert.is(removalSetBody([]), '');
  assert.is(syncSetBody(b, new Map([[KEY_B, '10.200.0.12:4000']])), `private_key=${Buffer.from(PRIV, 'base64').toString('hex')}\nlisten_port=51820\nfwmark=0\npublic_key=${hexB}\npreshared_key=${'0'.repeat(64)}\nendpoint=10.200.0.12:4000\nreplace_allowed_ips=true\nallowed_ip=10.123.0.3/32\npersistent_keepalive_interval=0\n\n`, 'no replace_peers: sessions stay');
});

test('the running side keeps no key: withoutSecrets fingerprints them, diffs still see changes, bodies carry the real keys', () => {
  const PSK = 'LH0C3A0fMKlIgfVcKS6vR1u4LwDmYWqOD2iD6EY4ZsI=';
  const PRIV2 = 'uN0ijmpq3sVXF85P57MSQVPbE7eGNvVz8Ed4+PT/uHk=';
  const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
  const a = parsed(`[Interface]\nPrivateKey = ${PRIV}\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 10.123.0.2/32\n`);
  const b = parsed(`[Interface]\nPrivateKey = ${PRIV2}\n\n[Peer]\nPublicKey = ${KEY_A}\nPresharedKey = ${PSK}\nAllowedIPs = 10.123.0.2/32\n\n` +
    `[Peer]\nPublicKey = ${KEY_B}\nPresharedKey = ${PSK}\nAllowedIPs = 10.123.0.3/32\n`);
  const kept = JSON.stringify(withoutSecrets(b));
  for (const secret of [PRIV2, PSK, hex(PRIV2), hex(PSK)]) assert.not.ok(kept.includes(secret), 'no key text in what the runtime keeps');
  assert.equal(withoutSecrets(b).peers.map((p) => p.publicKey), [KEY_A, KEY_B], 'public keys stay');
  const diff = diffConfigs(withoutSecrets(a), withoutSecrets(b));
  assert.ok(diff.device.privateKey, 'a changed private key is still seen');
  assert.equal(diff.peersChanged.map((c) => c.fields), [['presharedKey']], 'a changed preshared key is still seen');
  const body = reloadSetBody(diff, b, new Map());
  assert.ok(body.startsWith(`private_key=${hex(PRIV2)}\n`), 'the new private key comes from the parsed config');
  assert.is(body.split(`preshared_key=${hex(PSK)}`).length - 1, 2, 'both preshared keys are the real ones');
  assert.is(diffConfigs(withoutSecrets(b), withoutSecrets(b)).empty, true);
});

test('liveApplicable: peers and device keys apply live; [Interface] wg-quick keys and [Gateway] presence wait for a restart', () => {
  const running = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24\nMTU = 1400\n\n[Gateway]\nNetwork = 10.124.0.0/24\nHost = app=10.124.0.10\n`);
  const next = parsed(`[Interface]\nPrivateKey = ${PRIV}\nListenPort = 5000\nAddress = 10.99.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\nHost = app=10.124.0.20\n\n[Peer]\nPublicKey = ${KEY_A}\nAllowedIPs = 10.123.0.2/32\n`);
  const live = liveApplicable(running, next);
  assert.is(live.interface.listenPort, 5000);
  assert.equal(live.interface.addresses, running.interface.addresses);
  assert.is(live.interface.mtu, 1400);
  assert.equal(live.gateway?.hosts, [{ name: 'app', address: '10.124.0.20' }]);
  assert.is(live.peers.length, 1);
  const noGateway = parsed(`[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24\n`);
  assert.equal(liveApplicable(running, noGateway).gateway, running.gateway, 'a vanished [Gateway] keeps running');
  assert.is(liveApplicable(noGateway, running).gateway, undefined, 'a new [Gateway] waits for a restart');
  assert.equal(diffConfigs(liveApplicable(running, next), next).interfaceFields, ['addresses', 'mtu'], 'still reported as pending');
});

test('netcfg pieces: undo order and early take, iptables -S splitting, resolv.conf text, netns identity', async () => {
  const u = new UndoStack();
  const done: string[] = [];
  u.push('a', () => { done.push('a'); });
  u.push('b', () => { throw new Error('boom'); });
  u.push('c', async () => { done.push('c'); });
  assert.throws(() => u.push('a', () => undefined), /twice/);
  assert.ok(await u.take('a'));
  assert.not.ok(await u.take('a'));
  const failed: string[] = [];
  await u.unwind((k) => failed.push(k));
  assert.equal(done, ['a', 'c']);
  assert.equal(failed, ['b']);
  assert.equal(u.keys(), []);
  // The synchronous unwind of an exit handler: sync variants only, newest first, failures reported.
  const syncDone: string[] = [];
  u.push('x', () => { throw new Error('the async variant must not run'); }, () => { syncDone.push('x'); });
  u.push('y', async () => undefined);
  u.push('z', () => undefined, () => { throw new Error('boom'); });
  const syncFailed: string[] = [];
  u.unwindSync((k) => syncFailed.push(k));
  assert.equal(syncDone, ['x']);
  assert.equal(syncFailed, ['z']);
  assert.equal(u.keys(), []);
  assert.equal(splitRule('POSTROUTING -s 10.123.0.0/24 -d 10.124.0.0/24 -m comment --comment "wgts:gw 0" -j MASQUERADE'),
    ['POSTROUTING', '-s', '10.123.0.0/24', '-d', '10.124.0.0/24', '-m', 'comment', '--comment', 'wgts:gw 0', '-j', 'MASQUERADE']);
  assert.is(resolvConf(['10.123.0.1'], ['zerops', 'corp']), '# written by wgts up; restored when the interface goes down\nnameserver 10.123.0.1\nsearch zerops corp\n');
  const ns = new Netns('ident');
  try {
    assert.is(currentNetnsName(), null, 'the test runs in no named namespace');
    const script = `import('${join(repoRoot, 'dist/src/gateway/netcfg.js')}').then((m) => console.log(m.currentNetnsName()))`;
    assert.is(ns.exec(process.execPath, ['-e', script]).trim(), ns.name);
    // Inside a named namespace the namespace's resolv.conf is used even where resolvectl would
    // answer (it would configure the host's resolver): no resolvectl call at all.
    const etc = mkdtempSync(join(tmpdir(), 'wgts-netnsetc-'));
    try {
      const dns = `import('${join(repoRoot, 'dist/src/gateway/netcfg.js')}').then(async (m) => {
        const calls = [];
        const c = new m.NetConfig('wt0', { run: async (cmd, args) => { calls.push(cmd + ' ' + args.join(' ')); return ''; }, netnsEtcDir: ${JSON.stringify(etc)} });
        const how = await c.setSplitDns(['10.123.0.1'], ['zerops']);
        console.log(JSON.stringify({ kind: how.kind, calls }));
      })`;
      const r = JSON.parse(ns.exec(process.execPath, ['-e', dns])) as { kind: string; calls: string[] };
      assert.equal(r, { kind: 'netns-resolv-conf', calls: [] });
      assert.match(readFileSync(join(etc, ns.name, 'resolv.conf'), 'utf8'), 'nameserver 10.123.0.1\nsearch zerops\n');
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  } finally {
    ns.delete();
  }
});

test('split DNS outside a named namespace: resolvectl when systemd-resolved answers (reverted on unwind), else instructions', async () => {
  const calls: string[] = [];
  const resolved = new NetConfig('wt0', { run: async (cmd, args) => { calls.push(`${cmd} ${args.join(' ')}`); return ''; } });
  assert.equal(await resolved.setSplitDns(['10.123.0.1'], ['zerops', 'corp']), { kind: 'resolvectl' });
  assert.equal(calls, ['resolvectl status', 'resolvectl dns wt0 10.123.0.1', 'resolvectl domain wt0 zerops corp', 'resolvectl default-route wt0 false']);
  await resolved.undo.unwind((k, e) => { throw new Error(`${k}: ${String(e)}`); });
  assert.is(calls[calls.length - 1], 'resolvectl revert wt0');

  const empty = mkdtempSync(join(tmpdir(), 'wgts-nonetns-'));
  try {
    const none = new NetConfig('wt0', { run: async () => { throw new Error('resolvectl: command not found'); }, netnsDir: empty, netnsEtcDir: empty });
    const how = await none.setSplitDns(['10.123.0.1'], ['zerops']);
    assert.is(how.kind, 'manual');
    if (how.kind === 'manual') assert.match(how.instructions, 'nameserver 10.123.0.1\n  search zerops');
    assert.equal(none.undo.keys(), [], 'nothing changed, nothing to undo');
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ end to end

const work = mkdtempSync(join(tmpdir(), 'wgts-rt-'));
const etcNetnsExisted = existsSync('/etc/netns');
const gwIf = uniqueIfname('gw');
const aIf = uniqueIfname('la');
const bIf = uniqueIfname('lb');
const cIf = uniqueIfname('lc');
const gwFile = join(work, `${gwIf}.conf`);
const conf = (ifname: string): string => join(work, `${ifname}.conf`);

let gw: Netns;
let proj: Netns;
let lapA: Netns;
let lapB: Netns;
let lapC: Netns;
const laptops = (): Netns[] => [lapA, lapB, lapC].filter((n) => n !== undefined);

const procs: UpProc[] = [];

/** Starts `wgts up` for `ifname`'s config in `ns` (see startUp). */
function up(ns: Netns, ifname: string): Promise<UpProc> {
  return startUp(ns, conf(ifname), ifname, procs);
}

/** TCP connect to host:port from `ns`; the text the server sent, or null when no connection within 1 s. */
function tcp(ns: Netns, host: string, port: number): string | null {
  const r = ns.tryExec('ncat', ['--recv-only', '-w', '1', host, String(port)], { timeoutMs: 5000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

function curl(ns: Netns, url: string, seconds = 3): string | null {
  const r = ns.tryExec('curl', ['-s', '-m', String(seconds), url], { timeoutMs: (seconds + 2) * 1000 });
  return r.status === 0 ? r.stdout : null;
}

function getent(ns: Netns, name: string): string {
  return ns.tryExec('getent', ['hosts', name], { timeoutMs: 15_000 }).stdout.trim();
}

const gwStatus = (): InterfaceStatus => {
  const s = readStatus(gwIf);
  if (!s) throw new Error('no gateway status file');
  return s;
};

/** The gateway config parses, `wgts peer list` and the running gateway (over UAPI) hold exactly `names`. */
async function expectPeers(names: string[]): Promise<void> {
  const r = parseConfig(readFileSync(gwFile, 'utf8'), gwFile);
  assert.ok(r.ok, 'the gateway config parses');
  if (!r.ok) return;
  assert.equal(r.config.peers.map((p) => p.name).sort(), [...names].sort());
  const listed = JSON.parse(wgtsOk(['peer', 'list', gwFile, '--json'])) as { name: string; publicKey: string }[];
  assert.equal(listed.map((p) => p.name).sort(), [...names].sort());
  const keys = r.config.peers.map((p) => p.publicKey).sort();
  await waitFor(async () => {
    const shown = await showInterface(gwIf);
    const s = gwStatus();
    return JSON.stringify(shown.peers.map((p) => p.publicKey).sort()) === JSON.stringify(keys)
      && JSON.stringify(Object.values(s.peers).map((p) => p.name).sort()) === JSON.stringify([...names].sort());
  }, 5000, 20, `gateway peers ${names.join(', ')}`);
}

/** Milliseconds until the running gateway (over UAPI) has `count` peers. */
async function appliedAfter(count: number): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => (await showInterface(gwIf)).peers.length === count, 5000, 5, `${count} peers on the gateway`);
  return Date.now() - t0;
}

const SERVERS = `
const http = require('http'), net = require('net');
http.createServer((q, s) => s.end('hello from app')).listen(3000, '10.124.0.10');
net.createServer((c) => c.end('app3001 ' + c.remoteAddress + '\\n')).listen(3001, '10.124.0.10');
net.createServer((c) => c.end('db ' + c.remoteAddress + '\\n')).listen(5432, '10.124.0.11', () => console.log('ready'));
`;

const started = Date.now();

test('setup: project network, gateway and laptops on an internet bridge; gateway config by gateway init + peer add', async () => {
  gw = new Netns('gw');
  // The gateway forwards to its namespace's resolvers: the guard, never the host's.
  guardResolvConf(gw);
  proj = new Netns('proj');
  lapA = new Netns('lapA');
  lapB = new Netns('lapB');
  lapC = new Netns('lapC');
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24', '10.124.0.11/24'] });
  internetBridge(gw, laptops(), 'vl');

  const servers = proj.spawn(process.execPath, ['-e', SERVERS]);
  let said = '';
  servers.stdout?.on('data', (d: Buffer) => { said += d.toString(); });
  await waitFor(() => said.includes('ready'), 10_000, 25, 'project servers');
  assert.is(proj.tryExec('ip', ['route', 'get', '10.123.0.2']).status, 2, 'the project network has no route back to the tunnel subnet');

  wgtsOk(['gateway', 'init', gwFile, '--domain', 'zerops', '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820',
    '--host', 'app=10.124.0.10', '--host', 'db=10.124.0.11']);
  wgtsOk(['peer', 'add', gwFile, 'alice', '--out', conf(aIf)]);
  assert.match(readFileSync(conf(aIf), 'utf8'), 'DNS = 10.123.0.1, zerops');
});

test('gateway up: masquerade rule, forwarding, DNS, status file', async () => {
  const t0 = Date.now();
  const g = await up(gw, gwIf);
  console.log(`  gateway up in ${Date.now() - t0} ms (node start included)`);
  await waitFor(() => g.out().includes('DNS on 10.123.0.1:53 for zerops, 2 host(s)'), 10_000, 25, 'DNS start logged');
  const nat = gw.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']);
  assert.match(nat, new RegExp(`-A POSTROUTING -s 10\\.123\\.0\\.0/24 -d 10\\.124\\.0\\.0/24 -m comment --comment "wgts:${gwIf}:${g.pid()}" -j MASQUERADE`));
  assert.match(gw.exec('iptables', ['-S', 'FORWARD']), `-A FORWARD -d 10.124.0.0/24 -i ${gwIf} -m comment --comment "wgts:${gwIf}:${g.pid()}" -j ACCEPT`);
  assert.match(gw.exec('iptables', ['-S', 'INPUT']), `-A INPUT -d 10.123.0.1/32 -i ${gwIf} -p udp -m udp --dport 53 -m comment --comment "wgts:${gwIf}:${g.pid()}" -j ACCEPT`);
  assert.is(gw.exec('cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '1');
  const s = gwStatus();
  assert.is(s.role, 'gateway');
  assert.is(s.config, gwFile);
  assert.equal(Object.values(s.peers).map((p) => p.name), ['alice']);
  await expectPeers(['alice']);
});

test('wgts laptop: handshake, names through the gateway DNS, HTTP by host name, db reachable, masquerade', async () => {
  await up(lapA, aIf);
  assert.match(readFileSync(resolvPath(lapA), 'utf8'), /^nameserver 10\.123\.0\.1$/m);
  assert.match(readFileSync(resolvPath(lapA), 'utf8'), /^search zerops$/m);
  assert.match(lapA.exec('ip', ['route']), '10.124.0.0/24 dev');
  const t0 = Date.now();
  assert.match(getent(lapA, 'app'), /^10\.124\.0\.10\s/);
  console.log(`  first lookup through the tunnel (handshake included): ${Date.now() - t0} ms`);
  assert.match(getent(lapA, 'app.zerops'), /^10\.124\.0\.10\s/);
  assert.match(getent(lapA, 'db'), /^10\.124\.0\.11\s/);
  assert.match(getent(lapA, 'gateway'), /^10\.123\.0\.1\s/);
  assert.is(getent(lapA, 'nosuchhost'), '');
  assert.is(curl(lapA, 'http://app:3000/'), 'hello from app');
  assert.is(tcp(lapA, 'db', 5432), 'db 10.124.0.1', 'db reachable; the project sees the gateway address (masquerade)');
  assert.is(tcp(lapA, '10.124.0.10', 3001), 'app3001 10.124.0.1');
  const shown = JSON.parse(wgtsOk(['show', gwIf, '--json'], gw)) as { peers: { name: string; latestHandshake: number; rxBytes: number; endpoint: string }[] };
  const alice = shown.peers.find((p) => p.name === 'alice');
  assert.ok(alice && alice.latestHandshake > 0 && alice.rxBytes > 0, 'handshake and traffic seen by the gateway');
  assert.match(alice?.endpoint ?? '', /^10\.200\.0\.10:\d+$/);
  assert.equal(Object.values(gwStatus().peers).map((p) => p.denied), [0]);
});

test('wireguard-go laptop (wg-quick), added while the gateway runs', async () => {
  wgtsOk(['peer', 'add', gwFile, 'bob', '--out', conf(bIf)]);
  console.log(`  peer add -> applied by the running gateway: ${await appliedAfter(2)} ms after the command returned`);
  await expectPeers(['alice', 'bob']);
  const r = wgQuick(lapB, 'up', conf(bIf));
  assert.is(r.status, 0, r.stderr);
  assert.match(readFileSync(resolvPath(lapB), 'utf8'), 'nameserver 10.123.0.1\nsearch zerops\n');
  assert.match(getent(lapB, 'app'), /^10\.124\.0\.10\s/);
  assert.match(getent(lapB, 'app.zerops'), /^10\.124\.0\.10\s/);
  assert.is(curl(lapB, 'http://app:3000/'), 'hello from app');
  assert.is(tcp(lapB, 'db', 5432), 'db 10.124.0.1');
  assert.match(lapB.exec('wg', ['show', bIf, 'latest-handshakes']), /\t[1-9][0-9]+\n/);
  // `wgts show` reads wireguard-go over the same UAPI (no status file: no names, no denied counts).
  const gwPub = (JSON.parse(wgtsOk(['show', gwIf, '--json'], gw)) as { publicKey: string }).publicKey;
  const shown = JSON.parse(wgtsOk(['show', bIf, '--json'], lapB)) as { config: unknown; peers: { publicKey: string; name: unknown; denied: unknown; latestHandshake: number; endpoint: string }[] };
  assert.is(shown.config, null);
  assert.is(shown.peers.length, 1);
  assert.is(shown.peers[0].publicKey, gwPub);
  assert.is(shown.peers[0].endpoint, '10.200.0.1:51820');
  assert.ok(shown.peers[0].latestHandshake > 0);
  assert.is(shown.peers[0].name, null);
  assert.is(shown.peers[0].denied, null);
});

test('restricted peer (--allow 10.124.0.10:3000/tcp): app:3000 yes, db:5432 and app:3001 no, denied counted', async () => {
  wgtsOk(['peer', 'add', gwFile, 'carol', '--allow', '10.124.0.10:3000/tcp', '--out', conf(cIf)]);
  await expectPeers(['alice', 'bob', 'carol']);
  await up(lapC, cIf);
  assert.match(getent(lapC, 'app'), /^10\.124\.0\.10\s/, 'DNS to the gateway is always allowed');
  assert.is(curl(lapC, 'http://app:3000/'), 'hello from app');
  assert.is(tcp(lapC, 'db', 5432), null);
  assert.is(tcp(lapC, '10.124.0.10', 3001), null);
  assert.is(lapC.tryExec('ping', ['-c', '1', '-W', '1', '10.124.0.10']).status, 1);
  const carolKey = (JSON.parse(wgtsOk(['peer', 'list', gwFile, '--json'])) as { name: string; publicKey: string }[]).find((p) => p.name === 'carol')?.publicKey ?? '';
  await waitFor(() => (gwStatus().peers[carolKey]?.denied ?? 0) >= 3, 10_000, 100, 'denied counter in the status file');
  const s = gwStatus();
  assert.ok(Object.entries(s.peers).every(([k, p]) => k === carolKey || p.denied === 0), 'other peers have no denials');
  assert.ok((s.counters.filtered ?? 0) >= s.peers[carolKey].denied);
  const text = wgtsOk(['show', gwIf], gw);
  assert.match(text, /name: carol\n(.*\n)*?  denied packets: [1-9]/);
  // Unrestricted peers still reach everything.
  assert.is(tcp(lapA, 'db', 5432), 'db 10.124.0.1');
});

test('live removal cuts the peer off within seconds, without restarting the gateway', async () => {
  const g = procs[0];
  const said = wgtsOk(['peer', 'remove', gwFile, 'carol']);
  assert.match(said, new RegExp(`the running gateway ${gwIf} \\(pid ${g.pid()}\\) cut carol off \\(\\d+ ms\\)`), 'the command waited for the gateway');
  const t0 = Date.now();
  // The start of the first request that fails: the peer was cut off before it (and after the last success).
  let cut = -1;
  while (cut < 0 && Date.now() - t0 < 5000) {
    const at = Date.now() - t0;
    if (curl(lapC, 'http://10.124.0.10:3000/', 1) === null) cut = at;
    else await sleep(50);
  }
  console.log(`  peer remove -> cut off: within ${cut} ms after the command returned`);
  assert.ok(cut >= 0 && cut < 5000, 'cut off within 5 s');
  await expectPeers(['alice', 'bob']);
  assert.is(g.exit(), null, 'the gateway kept running');
  // Its output arrives through a pipe this process reads between the synchronous commands.
  await waitFor(() => g.out().includes('reloaded') && g.out().includes('removed carol'), 10_000, 50, 'reload logged');
  assert.is(curl(lapA, 'http://app:3000/'), 'hello from app', 'alice is unaffected');
  // carol's laptop: SIGTERM restores its resolv.conf.
  const c = procs[2];
  c.kill('SIGTERM');
  await waitFor(() => c.exit() !== null, 5000, 25, 'carol laptop exit');
  assert.is(c.exit(), 0);
  assert.is(readFileSync(resolvPath(lapC), 'utf8'), GUARD_RESOLV_CONF);
  assert.not.ok(existsSync(statusPath(cIf)));
});

test('an unparsable edit is reported as FILE:LINE and the running config is kept', async () => {
  const g = procs[0];
  const good = readFileSync(gwFile, 'utf8');
  const lines = good.split('\n').length;
  writeFileSync(gwFile, `${good}this is not a config line\n`);
  await waitFor(() => g.out().includes(`${gwFile}:${lines}:`) && g.out().includes('keeping the running config'), 10_000, 50, 'reload error logged');
  assert.is(curl(lapA, 'http://app:3000/'), 'hello from app');
  const shown = JSON.parse(wgtsOk(['show', gwIf, '--json'], gw)) as { peers: unknown[] };
  assert.is(shown.peers.length, 2);
  writeFileSync(gwFile, good);
  await sleep(400);
  await expectPeers(['alice', 'bob']);
});

test('down: wg-quick down, wgts down laptop, wgts down gateway; every change undone', async () => {
  const r = wgQuick(lapB, 'down', conf(bIf));
  assert.is(r.status, 0, r.stderr);
  assert.is(readFileSync(resolvPath(lapB), 'utf8'), GUARD_RESOLV_CONF);

  wgtsOk(['down', aIf], lapA);
  assert.is(readFileSync(resolvPath(lapA), 'utf8'), GUARD_RESOLV_CONF, 'laptop resolv.conf restored');
  assert.is(lapA.tryExec('ip', ['link', 'show', aIf]).status, 1);
  assert.not.match(lapA.exec('ip', ['route']), '10.124.0.0/24');

  const g = procs[0];
  const t0 = Date.now();
  wgtsOk(['down', gwIf], gw);
  console.log(`  wgts down gateway: ${Date.now() - t0} ms (node start included)`);
  await waitFor(() => g.exit() !== null, 5000, 25, 'gateway exit');
  assert.is(g.exit(), 0);
  await waitFor(() => g.out().includes('down (UAPI socket removed)'), 10_000, 50, 'shutdown logged');
  assert.not.match(gw.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']), 'wgts:');
  assert.not.match(gw.exec('iptables', ['-S']), 'wgts:', 'no FORWARD or INPUT rule left');
  assert.is(gw.exec('cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '1', 'forwarding stays on (Docker or another gateway may depend on it)');
  assert.not.ok(existsSync(statusPath(gwIf)));
  assert.not.ok(existsSync(socketPath(gwIf)));
  assert.is(gw.tryExec('ip', ['link', 'show', gwIf]).status, 1);
  assert.not.match(gw.exec('ss', ['-lnu']), '10.123.0.1:53');
  assert.equal(wgts(['down', gwIf], gw).status, 1, 'a second down: no such interface');
  console.log(`  end-to-end file: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test.after(() => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  for (const ns of [gw, proj, ...laptops()]) ns?.delete();
  // Names are unique to this process: whatever a killed daemon left is ours to remove.
  for (const ifname of [gwIf, aIf, bIf, cIf]) {
    rmSync(statusPath(ifname), { force: true });
    rmSync(socketPath(ifname), { force: true });
  }
  for (const lap of laptops()) rmSync(`/etc/netns/${lap.name}`, { recursive: true, force: true });
  if (!etcNetnsExisted) {
    try { rmdirSync('/etc/netns'); } catch { /* not empty: another user's */ }
  }
  rmSync(work, { recursive: true, force: true });
});

test.run();
