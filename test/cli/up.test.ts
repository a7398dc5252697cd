// `wgts up` / `wgts down` / `wgts show` as commands (src/cli/up.ts, src/gateway/show.ts): config
// errors as FILE:LINE with exit 1 before anything is created, full-tunnel rejection, the JSON
// shape of `show`, `down` by name or file, SIGTERM cleanup; plus the pure formatting helpers.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { downTarget } from '../../src/cli/up.js';
import { formatShow, parseGetReply, prettyBytes, prettyDuration, type ShowInterface } from '../../src/gateway/show.js';
import { readStatus, statusPath } from '../../src/gateway/status.js';
import { Netns, sh, waitFor } from '../helpers/netns.js';
import { guardResolvConf } from '../helpers/stock-laptop.js';
import { genkey, socketPath, uniqueIfname, wgtsScript } from '../helpers/wg.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-up-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function confFile(name: string, text: string): string {
  const p = join(dir, `${name}.conf`);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

const linkExists = (ns: Netns, ifname: string): boolean => ns.tryExec('ip', ['link', 'show', ifname]).status === 0;

test('formatting helpers: durations, sizes, `wg show` layout', () => {
  assert.is(prettyDuration(1), '1 second');
  assert.is(prettyDuration(25), '25 seconds');
  assert.is(prettyDuration(3725), '1 hour, 2 minutes, 5 seconds');
  assert.is(prettyDuration(86400 + 60), '1 day, 1 minute');
  assert.is(prettyBytes(1000), '1000 B');
  assert.is(prettyBytes(2048), '2.00 KiB');
  assert.is(prettyBytes(3.5 * 1024 * 1024), '3.50 MiB');
  const iface: ShowInterface = {
    name: 'gw0', publicKey: 'PUB', listenPort: 51820, fwmark: 0, config: '/etc/wgts/gw0.conf', counters: { filtered: 3, outboundFiltered: 7 },
    reload: { ok: false, at: 1_000_000, attempts: 2, errors: ['applying the change to gw0 failed: errno -98'], nextRetry: 1_067_400 },
    peers: [
      { publicKey: 'OLD', name: null, hasPresharedKey: false, endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: 0, denied: 0, refused: 0, rxPackets: 0, txPackets: 0 },
      { publicKey: 'NEW', name: 'alice', hasPresharedKey: true, endpoint: '10.200.0.2:4000', allowedIps: ['10.123.0.2/32'], latestHandshake: 1000, rxBytes: 2048, txBytes: 10, persistentKeepalive: 25, denied: 3, refused: 7, rxPackets: 20, txPackets: 1 },
    ],
    inactive: [
      { publicKey: 'OFF', name: 'bob', state: 'disabled', expires: null },
      { publicKey: 'GONE', name: null, state: 'expired', expires: '2026-01-01T00:00:00Z' },
    ],
    statusUpdated: 1_065_000,
  };
  assert.is(formatShow(iface, 1065), [
    'interface: gw0', '  public key: PUB', '  private key: (hidden)', '  listening port: 51820', '  config: /etc/wgts/gw0.conf',
    '  reload: FAILED (2 attempts; next try in 3 s):', '    applying the change to gw0 failed: errno -98',
    '  denied packets: 3', '  refused packets (to peers): 7',
    '', 'peer: NEW', '  name: alice', '  preshared key: (hidden)', '  endpoint: 10.200.0.2:4000', '  allowed ips: 10.123.0.2/32',
    '  latest handshake: 1 minute, 5 seconds ago', '  transfer: 2.00 KiB received, 10 B sent', '  persistent keepalive: every 25 seconds', '  denied packets: 3',
    '  refused packets: 7', '', 'peer: OLD', '  allowed ips: (none)',
    '', 'peer: OFF', '  name: bob', '  state: disabled (in /etc/wgts/gw0.conf, not on the interface)',
    '', 'peer: GONE', '  state: expired at 2026-01-01T00:00:00Z (in /etc/wgts/gw0.conf, not on the interface)', '',
  ].join('\n'));
});

test('parseGetReply: keys become base64, secrets are reduced to a public key / a flag, errno is checked', () => {
  const priv = '08'.repeat(32);
  const reply = `private_key=${priv}\nlisten_port=51820\npublic_key=${'11'.repeat(32)}\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\nendpoint=10.0.0.2:5\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\ntx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\nerrno=0\n\n`;
  const s = parseGetReply('wg9', reply);
  assert.is(s.publicKey, sh('wg', ['pubkey'], { input: `${Buffer.from(priv, 'hex').toString('base64')}\n` }).trim());
  assert.is(s.listenPort, 51820);
  assert.is(s.peers.length, 1);
  assert.equal(s.peers[0], {
    publicKey: Buffer.alloc(32, 0x11).toString('base64'), name: null, hasPresharedKey: false, endpoint: '10.0.0.2:5',
    allowedIps: ['10.0.0.2/32', 'fd00::2/128'], latestHandshake: 1700000000, rxBytes: 20, txBytes: 10, persistentKeepalive: 25, denied: null, refused: null, rxPackets: null, txPackets: null,
  });
  assert.not.ok(JSON.stringify(s).includes(priv), 'no private key in the result');
  assert.throws(() => parseGetReply('wg9', 'errno=-22\n\n'), /errno -22/);
});

test('downTarget: a name or a config path', () => {
  assert.is(downTarget('gw0'), 'gw0');
  assert.is(downTarget('/etc/wgts/gw0.conf'), 'gw0');
  assert.is(downTarget('./laptop.conf'), 'laptop');
  assert.throws(() => downTarget('a-name-much-too-long-for-linux'), /not a valid interface name/);
});

test('config errors: FILE:LINE on stderr, exit 1, nothing created', () => {
  const ns = new Netns('uperr');
  try {
    const ifname = uniqueIfname('ue');
    const bad = confFile(ifname, `[Interface]\nPrivateKey = ${genkey().priv}\nListenPort = 99999\n\n[Peer]\nPublicKey = nope\nAllowedIPs = 10.0.0.2/32\n`);
    const r = ns.tryExec(process.execPath, [wgtsScript, 'up', bad]);
    assert.is(r.status, 1);
    assert.match(r.stderr, `${bad}:3: bad ListenPort`);
    assert.match(r.stderr, `${bad}:6: bad PublicKey`);
    assert.not.ok(linkExists(ns, ifname), 'no TUN');
    assert.not.ok(existsSync(socketPath(ifname)), 'no socket');

    // An Allow rule the config shape check lets through but the access grammar rejects.
    const gw = confFile(ifname, `[Interface]\nPrivateKey = ${genkey().priv}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\n\n[Peer]\nPublicKey = ${genkey().pub}\nAllowedIPs = 10.123.0.2/32\nAllow = 10.124.0.10:080/tcp\n`);
    const r2 = ns.tryExec(process.execPath, [wgtsScript, 'up', gw]);
    assert.is(r2.status, 1);
    assert.match(r2.stderr, `${gw}:11: access rule "10.124.0.10:080/tcp"`);

    const r3 = ns.tryExec(process.execPath, [wgtsScript, 'up', join(dir, 'missing0.conf')]);
    assert.is(r3.status, 1);
    assert.match(r3.stderr, /missing0\.conf: ENOENT/);

    const longName = confFile('name-too-long-for-linux', '[Interface]\n');
    const r4 = ns.tryExec(process.execPath, [wgtsScript, 'up', longName]);
    assert.is(r4.status, 1);
    assert.match(r4.stderr, /not a valid interface name/);
  } finally {
    ns.delete();
  }
});

test('full tunnel (0.0.0.0/0, ::/0, 0.0.0.0/1 + 128.0.0.0/1, ::/1 + 8000::/1) is rejected with a clear message at the peer line', () => {
  const ns = new Netns('upfull');
  try {
    const ifname = uniqueIfname('uf');
    const f = confFile(ifname, `[Interface]\nPrivateKey = ${genkey().priv}\nAddress = 10.9.0.2/32\n\n[Peer]\nPublicKey = ${genkey().pub}\nEndpoint = 127.0.0.1:51820\nAllowedIPs = 10.9.0.0/24, 0.0.0.0/0, ::/0\n`);
    const r = ns.tryExec(process.execPath, [wgtsScript, 'up', f]);
    assert.is(r.status, 1);
    assert.match(r.stderr, `${f}:5: AllowedIPs 0.0.0.0/0`);
    assert.match(r.stderr, `${f}:5: AllowedIPs ::/0`);
    assert.match(r.stderr, /full tunnel .* not support/);
    assert.not.ok(linkExists(ns, ifname));
    const halves = confFile(ifname, `[Interface]\nPrivateKey = ${genkey().priv}\nAddress = 10.9.0.2/32\n\n[Peer]\nPublicKey = ${genkey().pub}\nEndpoint = 127.0.0.1:51820\nAllowedIPs = 0.0.0.0/1, 128.0.0.0/1, ::/1, 8000::/1\n`);
    const h = ns.tryExec(process.execPath, [wgtsScript, 'up', halves]);
    assert.is(h.status, 1);
    assert.match(h.stderr, `${halves}:5: AllowedIPs 0.0.0.0/1, 128.0.0.0/1 together cover every IPv4 address: a full tunnel`);
    assert.match(h.stderr, `${halves}:5: AllowedIPs ::/1, 8000::/1 together cover every IPv6 address: a full tunnel`);
    assert.not.ok(linkExists(ns, ifname));
  } finally {
    ns.delete();
  }
});

interface ShowJson {
  name: unknown; publicKey: unknown; listenPort: unknown; fwmark: unknown; config: unknown; counters: unknown;
  peers: { publicKey: unknown; name: unknown; hasPresharedKey: unknown; endpoint: unknown; allowedIps: unknown; latestHandshake: unknown; rxBytes: unknown; txBytes: unknown; persistentKeepalive: unknown; denied: unknown }[];
}

test('show --json shape, human show with names, down by file, SIGINT cleanup', async () => {
  const ns = new Netns('upshow');
  const ifname = uniqueIfname('us');
  const me = genkey();
  const bob = genkey();
  const f = confFile(ifname, `[Interface]\nPrivateKey = ${me.priv}\nListenPort = 51999\nAddress = 10.9.0.1/24\nMTU = 1380\n\n[Peer]\nName = bob\nPublicKey = ${bob.pub}\nPresharedKey = ${genkey().priv}\nEndpoint = 127.0.0.1:51998\nPersistentKeepalive = 25\nAllowedIPs = 10.9.0.2/32, 10.77.0.0/16\n`);
  try {
    let out = '';
    const proc = ns.spawn(process.execPath, ['--enable-source-maps', wgtsScript, 'up', f]);
    proc.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    let exit: number | null = null;
    proc.on('exit', (code) => { exit = code ?? -1; });
    await waitFor(() => existsSync(statusPath(ifname)) || exit !== null, 10_000, 25, 'status file');
    assert.is(exit, null, out);
    assert.is(statSync(statusPath(ifname)).mode & 0o777, 0o600);
    // Host side: address, MTU, routes (10.9.0.2/32 is inside 10.9.0.1/24: no route of its own).
    assert.match(ns.exec('ip', ['-o', 'addr', 'show', 'dev', ifname]), 'inet 10.9.0.1/24');
    assert.match(ns.exec('ip', ['link', 'show', ifname]), /mtu 1380 .*state UNKNOWN|mtu 1380/);
    const routes = ns.exec('ip', ['route', 'show', 'dev', ifname]);
    assert.match(routes, '10.77.0.0/16');
    assert.not.match(routes, '10.9.0.2');

    const js = JSON.parse(ns.exec(process.execPath, [wgtsScript, 'show', ifname, '--json'])) as ShowJson;
    assert.is(js.name, ifname);
    assert.is(js.publicKey, me.pub);
    assert.is(js.listenPort, 51999);
    assert.is(js.fwmark, 0);
    assert.is(js.config, f);
    assert.type(js.counters, 'object');
    assert.is(js.peers.length, 1);
    const p = js.peers[0];
    assert.is(p.publicKey, bob.pub);
    assert.is(p.name, 'bob');
    assert.is(p.hasPresharedKey, true);
    assert.is(p.endpoint, '127.0.0.1:51998');
    assert.equal(p.allowedIps, ['10.9.0.2/32', '10.77.0.0/16']);
    assert.is(p.latestHandshake, 0);
    assert.type(p.rxBytes, 'number');
    assert.type(p.txBytes, 'number');
    assert.ok((p.txBytes as number) > 0, 'the keepalive turned on at start sent a handshake initiation');
    assert.is(p.persistentKeepalive, 25);
    assert.is(p.denied, 0);
    const text = ns.exec(process.execPath, [wgtsScript, 'show', ifname]);
    assert.match(text, `interface: ${ifname}\n  public key: ${me.pub}\n  private key: (hidden)\n  listening port: 51999`);
    assert.match(text, `peer: ${bob.pub}\n  name: bob\n  preshared key: (hidden)\n  endpoint: 127.0.0.1:51998`);
    assert.not.match(text, me.priv);
    const all = JSON.parse(ns.tryExec(process.execPath, [wgtsScript, 'show', '--json']).stdout) as ShowJson[];
    assert.ok(Array.isArray(all) && all.some((i) => i.name === ifname), 'show --json without a name: an array holding every interface');

    const none = ns.tryExec(process.execPath, [wgtsScript, 'show', 'nosuch0', '--json']);
    assert.is(none.status, 1);
    assert.match(none.stderr, 'no such interface: nosuch0');
    const downNone = ns.tryExec(process.execPath, [wgtsScript, 'down', 'nosuch0']);
    assert.is(downNone.status, 1);
    assert.match(downNone.stderr, 'no such interface: nosuch0');

    // A second `up` of the same interface fails without disturbing the first.
    const again = ns.tryExec(process.execPath, [wgtsScript, 'up', f]);
    assert.is(again.status, 1);
    assert.match(again.stderr, `cannot create interface ${ifname}`);
    assert.ok(existsSync(statusPath(ifname)));

    // down by file: returns once the TUN and the status file are gone.
    const t0 = Date.now();
    const d = ns.tryExec(process.execPath, [wgtsScript, 'down', f]);
    const downMs = Date.now() - t0;
    assert.is(d.status, 0, d.stderr);
    assert.not.ok(linkExists(ns, ifname));
    assert.not.ok(existsSync(statusPath(ifname)));
    assert.not.ok(existsSync(socketPath(ifname)));
    await waitFor(() => exit !== null, 5000, 25, 'up exits');
    assert.is(exit, 0);
    console.log(`  wgts down: ${downMs} ms (including node start)`);

    // SIGINT (Ctrl-C): exit 0, TUN, socket and status file gone.
    exit = null;
    const proc2 = ns.spawn(process.execPath, [wgtsScript, 'up', f]);
    proc2.on('exit', (code) => { exit = code ?? -1; });
    await waitFor(() => existsSync(statusPath(ifname)) || exit !== null, 10_000, 25, 'status file');
    proc2.kill('SIGINT');
    await waitFor(() => exit !== null, 5000, 25, 'exit on SIGINT');
    assert.is(exit, 0);
    assert.not.ok(existsSync(statusPath(ifname)));
    assert.not.ok(existsSync(socketPath(ifname)));
    assert.not.ok(linkExists(ns, ifname));
  } finally {
    ns.delete();
    rmSync(statusPath(ifname), { force: true });
  }
});

test('warnings: a config with a private key readable by others; Metrics on a non-loopback address (no authentication)', async () => {
  const ns = new Netns('upwarn');
  guardResolvConf(ns);
  const ifname = uniqueIfname('uw');
  const port = 20000 + (process.pid % 20000);
  const text = `[Interface]\nPrivateKey = ${genkey().priv}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\nMetrics = 0.0.0.0:${port}\n`;
  const f = confFile(ifname, text);
  const run = async (mode: number): Promise<string> => {
    chmodSync(f, mode);
    let out = '';
    let exit: number | null = null;
    const p = ns.spawn(process.execPath, [wgtsScript, 'up', f]);
    p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => { exit = code ?? -1; });
    await waitFor(() => out.includes(`${ifname}: up: `) || exit !== null, 10_000, 25, 'up');
    p.kill('SIGTERM');
    await waitFor(() => exit !== null, 5000, 25, 'exit');
    return out;
  };
  try {
    const loose = await run(0o644);
    assert.match(loose, `wgts: ${ifname}: warning: ${f} holds a private key and is accessible to its group and every user (mode 0644); run: chmod 600 ${f}`);
    assert.match(loose, `warning: metrics on 0.0.0.0:${port} have no authentication`);
    const tight = await run(0o600);
    assert.not.match(tight, 'holds a private key');
    writeFileSync(f, text.replace(`0.0.0.0:${port}`, `127.0.0.1:${port}`), { mode: 0o600 });
    assert.not.match(await run(0o600), 'warning');
  } finally {
    ns.delete();
    rmSync(statusPath(ifname), { force: true });
  }
});

test('gateway: deleting the TUN stops it and undoes masquerade (forwarding stays on); rules a killed run left are removed by `down`', async () => {
  const ns = new Netns('upgw');
  const ifname = uniqueIfname('ug');
  guardResolvConf(ns);
  const f = confFile(ifname, `[Interface]\nPrivateKey = ${genkey().priv}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\nListenDns = 10.123.0.1:53\n\n[Peer]\nPublicKey = ${genkey().pub}\nAllowedIPs = 10.123.0.2/32\n`);
  const nat = (): string => ns.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']);
  const rule = (pid: number | undefined): string => `-A POSTROUTING -s 10.123.0.0/24 -d 10.124.0.0/24 -m comment --comment "wgts:${ifname}:${pid}" -j MASQUERADE`;
  const forward = (): string => ns.exec('cat', ['/proc/sys/net/ipv4/ip_forward']).trim();
  const start = async (): Promise<{ exit: () => number | null; out: () => string; kill: (s: NodeJS.Signals) => void; pid: number | undefined }> => {
    let exit: number | null = null;
    let out = '';
    const p = ns.spawn(process.execPath, [wgtsScript, 'up', f]);
    p.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => { exit = code ?? -1; });
    // Not the status file: a killed run leaves its file behind.
    await waitFor(() => out.includes(`${ifname}: up: `) || exit !== null, 10_000, 25, 'up');
    return { exit: () => exit, out: () => out, kill: (s) => p.kill(s), pid: p.pid };
  };
  try {
    assert.is(forward(), '0');
    const a = await start();
    assert.is(a.exit(), null, a.out());
    assert.match(nat(), rule(a.pid));
    assert.is(forward(), '1');
    assert.match(a.out(), 'net.ipv4.ip_forward = 1 (was 0; left at 1 on exit: Docker or another gateway may depend on it)');
    assert.match(ns.exec('ss', ['-lun']), '10.123.0.1:53', 'DNS on ListenDns');
    ns.exec('ip', ['link', 'del', ifname]);
    await waitFor(() => a.exit() !== null, 5000, 25, 'exit after TUN deletion');
    assert.is(a.exit(), 0);
    assert.not.match(nat(), 'wgts:');
    assert.not.match(ns.exec('iptables', ['-S']), 'wgts:');
    assert.is(forward(), '1', 'not turned off: something else may depend on it');
    assert.not.ok(existsSync(statusPath(ifname)));

    // A run killed with SIGKILL cannot clean up; the next run removes its rule before adding its own.
    const b = await start();
    b.kill('SIGKILL');
    await waitFor(() => b.exit() !== null, 5000, 25, 'killed');
    assert.match(nat(), rule(b.pid));
    assert.ok(existsSync(statusPath(ifname)), 'a killed run leaves its status file');
    // `down` sees the stale socket and status file (their process is gone) and clears them at once,
    // and the firewall rules the killed run left (masquerade, 2 FORWARD, 2 INPUT).
    const t0 = Date.now();
    const d = ns.tryExec(process.execPath, [wgtsScript, 'down', ifname]);
    assert.is(d.status, 0, d.stderr);
    assert.match(d.stdout, `removed 5 firewall rule(s) of ${ifname} left by a wgts that no longer runs`);
    assert.ok(Date.now() - t0 < 5000);
    assert.not.ok(existsSync(statusPath(ifname)));
    assert.not.ok(existsSync(socketPath(ifname)));
    assert.not.match(ns.exec('iptables', ['-S']), 'wgts:');
    const c = await start();
    assert.is(readStatus(ifname)?.pid, c.pid);
    assert.is(nat().split('\n').filter((l) => l.includes(`wgts:${ifname}`)).length, 1);
    c.kill('SIGTERM');
    await waitFor(() => c.exit() !== null, 5000, 25, 'exit');
    assert.is(c.exit(), 0);
    assert.not.match(nat(), 'wgts:');
  } finally {
    ns.delete();
    rmSync(statusPath(ifname), { force: true });
    rmSync(socketPath(ifname), { force: true });
  }
});

test.run();
