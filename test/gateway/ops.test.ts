// Issue 11, sections 1 and 2, end to end in namespaces: a gateway run by `wgts up`, a wgts laptop
// (alice) and a stock wg-quick + wireguard-go laptop (bob). Seeing it: `wgts show --watch` under a
// real terminal (tmux: the screen is read with capture-pane, Ctrl-C is typed with send-keys, the
// terminal must be as before afterwards), piped plain lines, `peer list` with the running interface's
// handshake, endpoint and transfer. Peers over time: disable / enable cut off and let back in live,
// an expiry cuts off with no change of the file (a timer), rekey makes the old key useless and the
// new one work, `gateway set` / `gateway host` apply live and mark client configs outdated until
// `peer config` re-issues them.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import { readStatus, statusPath } from '../../src/gateway/status.js';
import { Netns, sh, sleep, trySh, waitFor } from '../helpers/netns.js';
import { ping, socketPath, uniqueIfname, wgtsScript } from '../helpers/wg.js';
import { startUp, type UpProc, wgts, wgtsOk } from '../helpers/up.js';
import { guardResolvConf, stockLaptopUp, type StockLaptop } from '../helpers/stock-laptop.js';
import { startServers, tcpBanner } from '../helpers/probes.js';
import { internetBridge } from '../helpers/topology.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-ops-'));
const gwIf = uniqueIfname('go');
const gwFile = join(work, `${gwIf}.conf`);
const aIf = uniqueIfname('oa');
const bIf = uniqueIfname('ob');
const aFile = join(work, `${aIf}.conf`);
const bFile = join(work, `${bIf}.conf`);
const tmuxSocket = `wgts-ops-${process.pid}`;

let gw: Netns;
let proj: Netns;
let lapA: Netns;
let lapB: Netns;
let stock: StockLaptop | null = null;
const procs: UpProc[] = [];

const APP = 'app:3000 ::ffff:10.124.0.1';
const app = (ns: Netns): string | null => tcpBanner(ns, '10.124.0.10', 3000);

interface Listed { name: string; state: string; online: boolean | null; latestHandshake: number | null; endpoint: string | null; rxBytes: number | null; txBytes: number | null; config: string; outdated: string[]; expires: string | null; publicKey: string }
const list = (): Listed[] => JSON.parse(wgtsOk(['peer', 'list', gwFile, '--json'])) as Listed[];
const listed = (name: string): Listed => {
  const p = list().find((x) => x.name === name);
  if (!p) throw new Error(`peer list has no ${name}`);
  return p;
};
const devicePeers = (): string[] => gw.exec('wg', ['show', gwIf, 'peers']).trim().split('\n').filter(Boolean);

/** Waits until `probe` holds, polling; returns the ms it took. */
async function within(ms: number, what: string, probe: () => boolean): Promise<number> {
  const t0 = Date.now();
  await waitFor(probe, ms, 100, what);
  return Date.now() - t0;
}

/** A tmux command on this test's own server (`tmux -L SOCKET ...`). */
const tmux = (...args: string[]): string => sh('tmux', ['-L', tmuxSocket, ...args]);
const screen = (): string => tmux('capture-pane', '-p', '-t', 'w');
const paneFlag = (flag: string): string => tmux('display-message', '-p', '-t', 'w', `#{${flag}}`).trim();

test('setup: project, gateway, a wgts laptop and a stock laptop; both reach app', async () => {
  gw = new Netns('ogw');
  proj = new Netns('oproj');
  lapA = new Netns('olapA');
  lapB = new Netns('olapB');
  guardResolvConf(gw);
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24', '10.124.0.11/24'] });
  internetBridge(gw, [lapA, lapB], 'vo');
  await startServers(proj, 'app', [3000]);
  wgtsOk(['gateway', 'init', gwFile, '--name', 'shop', '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10']);
  wgtsOk(['peer', 'add', gwFile, 'alice', '--out', aFile]);
  wgtsOk(['peer', 'add', gwFile, 'bob', '--out', bFile]);
  await startUp(gw, gwFile, gwIf, procs);
  await startUp(lapA, aFile, aIf, procs);
  stock = stockLaptopUp(lapB, bFile);
  await within(10_000, 'alice reaches app', () => app(lapA) === APP);
  await within(10_000, 'bob reaches app', () => app(lapB) === APP);
});

test('peer list: handshake, online, endpoint and transfer from the running interface (table and --json)', () => {
  const alice = listed('alice');
  assert.is(alice.state, 'active');
  assert.is(alice.online, true);
  assert.ok((alice.latestHandshake ?? 0) > Date.now() / 1000 - 60, 'a recent handshake');
  assert.match(alice.endpoint ?? '', /^10\.200\.0\.10:\d+$/);
  assert.ok((alice.rxBytes ?? 0) > 0 && (alice.txBytes ?? 0) > 0);
  assert.match(listed('bob').endpoint ?? '', /^10\.200\.0\.11:\d+$/);
  const table = wgtsOk(['peer', 'list', gwFile]).split('\n');
  assert.match(table[0], /^NAME\s+ADDRESS\s+STATE\s+HANDSHAKE\s+ENDPOINT\s+TRANSFER\s+EXPIRES\s+CONFIG\s+PUBLIC KEY/);
  assert.match(table[1], /^alice\s+10\.123\.0\.2\s+online\s+(now|\d+ seconds? ago)\s+10\.200\.0\.10:\d+\s+[\d.]+ (B|KiB) in, [\d.]+ (B|KiB) out\s+-\s+current\s/);
  assert.match(table.join('\n'), /STATE online: a handshake within the last 3 minutes/);
});

test('wgts show --watch in a terminal (tmux): rates on the screen, redrawn in place; Ctrl-C gives the terminal back as it was', async () => {
  tmux('new-session', '-d', '-s', 'w', '-x', '160', '-y', '30', 'bash --norc --noprofile');
  tmux('send-keys', '-t', 'w', 'echo BEFORE-WATCH', 'Enter');
  await waitFor(() => screen().includes('\nBEFORE-WATCH'), 5000, 50, 'the shell');
  const flood = lapA.spawn('ping', ['-i', '0.02', '-w', '15', '-q', '10.124.0.10']);
  try {
    tmux('send-keys', '-t', 'w', `ip netns exec ${gw.name} ${process.execPath} ${wgtsScript} show ${gwIf} --watch --interval 0.5`, 'Enter');
    // The screen, once both rates are in: alice online with bit/s and packets/s > 0.
    const row = /^alice\s+online\s+\d+ s\s+10\.200\.0\.10:\d+\s+([\d.]+) (bit|kbit|Mbit)\/s\s+([\d.]+) (bit|kbit|Mbit)\/s\s+([\d.]+k?)\s+([\d.]+k?)\s+0\s+0\s+/m;
    await waitFor(() => { const m = row.exec(screen()); return m !== null && Number(m[5]) > 0 && Number(m[1]) > 0; }, 10_000, 100, `the watch screen:\n${screen()}`);
    const shot = screen();
    console.log(`  the watch screen:\n${shot.split('\n').filter((l) => l.trim()).map((l) => `    | ${l}`).join('\n')}`);
    assert.match(shot, new RegExp(`^wgts show --watch {3}every 0\\.5 s {3}\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ {3}\\(q or Ctrl-C quits\\)`, 'm'));
    assert.match(shot, new RegExp(`^interface ${gwIf}: port 51820, 2 peers \\(2 online\\), denied 0, refused 0$`, 'm'));
    assert.match(shot, /^PEER\s+STATE\s+HANDSHAKE\s+ENDPOINT\s+RX\s+TX\s+RX PKT\/S\s+TX PKT\/S\s+DENIED\s+REFUSED\s+TOTAL RX \/ TX$/m);
    assert.match(shot, /^bob\s+online\s+/m);
    assert.not.match(shot, /BEFORE-WATCH/, 'drawn on the alternate screen');
    assert.is(paneFlag('alternate_on'), '1');
    assert.is(paneFlag('cursor_flag'), '0', 'cursor hidden while watching');
    // Redrawn in place: the clock moves, the screen does not scroll (one header line).
    const clock = /every 0\.5 s {3}(\S+)/.exec(shot)?.[1];
    await waitFor(() => /every 0\.5 s {3}(\S+)/.exec(screen())?.[1] !== clock, 10_000, 100, 'the clock moves');
    assert.is(screen().split('\n').filter((l) => l.startsWith('wgts show --watch')).length, 1);
    // Typed keys do not land on the screen (raw mode), Ctrl-C ends it.
    tmux('send-keys', '-t', 'w', 'xyz');
    await sleep(700);
    assert.not.match(screen(), /xyz/);
    tmux('send-keys', '-t', 'w', 'C-c');
    await waitFor(() => paneFlag('alternate_on') === '0', 5000, 50, 'the alternate screen is left');
    assert.is(paneFlag('cursor_flag'), '1', 'cursor shown again');
    assert.match(screen(), /\nBEFORE-WATCH\n/, 'the screen from before is back');
    tmux('send-keys', '-t', 'w', "stty -a | grep -q ' icanon ' && stty -a | grep -q ' echo ' && echo TTY-COOKED-ECHO || echo TTY-NOT-RESTORED", 'Enter');
    await waitFor(() => /^TTY-(COOKED-ECHO|NOT-RESTORED)$/m.test(screen()), 5000, 50, `stty output:\n${screen()}`);
    assert.match(screen(), /^TTY-COOKED-ECHO$/m, 'the terminal is back in cooked mode with echo');
  } finally {
    flood.kill('SIGKILL');
    trySh('tmux', ['-L', tmuxSocket, 'kill-server']);
  }
});

test('packet counters per peer in the status file: 20 pings are at least 20 datagrams each way', async () => {
  const key = listed('alice').publicKey;
  const before = readStatus(gwIf)?.peers[key];
  assert.ok(ping(lapA, '10.124.0.10', { count: 20, deadline: 10 }));
  const t0 = readStatus(gwIf)?.updated ?? 0;
  await waitFor(() => (readStatus(gwIf)?.updated ?? 0) > t0, 10_000, 50, 'a newer status file');
  const after = readStatus(gwIf)?.peers[key];
  assert.ok(before?.rxPackets !== undefined && after?.rxPackets !== undefined && after.rxPackets - before.rxPackets >= 20, `rx ${before?.rxPackets} -> ${after?.rxPackets}`);
  assert.ok(before?.txPackets !== undefined && after?.txPackets !== undefined && after.txPackets - before.txPackets >= 20, `tx ${before?.txPackets} -> ${after?.txPackets}`);
});

test('wgts show --watch piped: plain key=value lines, one per peer and look; --count stops it', () => {
  const out = gw.exec(process.execPath, [wgtsScript, 'show', gwIf, '--watch', '--interval', '0.3', '--count', '3']);
  const lines = out.trim().split('\n');
  assert.is(lines.length, 6, '2 peers x 3 looks');
  assert.not.match(out, /\x1b/, 'no escape sequences in a pipe');
  assert.match(lines[0], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ${gwIf} (alice|bob) state=online handshake=\\d+s endpoint=10\\.200\\.0\\.1\\d:\\d+ rx=- tx=- rx_pps=- tx_pps=- denied=0 refused=0 rx_bytes=\\d+ tx_bytes=\\d+$`), 'the first look has no rates yet');
  assert.match(lines[5], /rx=\d[\d.]*(bit|kbit|Mbit)\/s tx=\d[\d.]*(bit|kbit|Mbit)\/s rx_pps=/);
});

test('peer disable cuts the stock laptop off live, it stays in the file and shows as disabled; enable lets it back in', async () => {
  const bobKey = listed('bob').publicKey;
  const said = wgtsOk(['peer', 'disable', gwFile, 'bob']);
  assert.match(said, new RegExp(`^disabled bob in .*\\nthe running gateway ${gwIf} \\(pid \\d+\\) cut bob off \\(\\d+ ms\\)\\n$`));
  assert.not.ok(devicePeers().includes(bobKey), 'off the interface: its sessions are gone');
  assert.is(app(lapB), null, 'bob is cut off');
  assert.is(app(lapA), APP, 'alice is not');
  const r = parseConfig(readFileSync(gwFile, 'utf8'), gwFile);
  assert.ok(r.ok && r.config.peers.some((p) => p.name === 'bob' && p.disabled === true && p.publicKey === bobKey), 'still in the file, Disabled = true');
  assert.match(readFileSync(gwFile, 'utf8'), /^Disabled = true$/m);
  assert.is(listed('bob').state, 'disabled');
  await waitFor(() => readStatus(gwIf)?.inactive?.[bobKey]?.state === 'disabled', 10_000, 50, 'disabled in the status file');
  assert.match(wgtsOk(['show', gwIf], gw), new RegExp(`peer: ${bobKey.replace(/[+/]/g, '\\$&')}\\n  name: bob\\n  state: disabled \\(in .*, not on the interface\\)`));
  // Bob keeps trying for a while (its laptop retries the handshake), then comes back with enable.
  for (let i = 0; i < 8; i++) { assert.is(app(lapB), null); await sleep(1000); }
  const back = wgtsOk(['peer', 'enable', gwFile, 'bob']);
  assert.match(back, new RegExp(`^bob is active\\nthe running gateway ${gwIf} \\(pid \\d+\\) let bob back in \\(\\d+ ms\\)\\n$`));
  const ms = await within(30_000, 'bob back', () => app(lapB) === APP);
  console.log(`  bob reaches app again ${ms} ms after enable (the stock laptop's next handshake retry)`);
  assert.not.match(readFileSync(gwFile, 'utf8'), /^Disabled/m);
});

test('an expiry cuts the peer off while the gateway runs, with no change of the file; enable needs a new date', async () => {
  const said = wgtsOk(['peer', 'set', gwFile, 'alice', '--expires', '4s']);
  assert.match(said, /^alice: expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(active\)\n/);
  const expires = Date.parse(listed('alice').expires ?? '');
  const mtime = statSync(gwFile).mtimeMs;
  assert.is(app(lapA), APP, 'still in before its time');
  await within(12_000, 'alice cut off after her expiry', () => app(lapA) === null);
  const late = Date.now() - expires;
  console.log(`  alice cut off ${late} ms after her Expires (no file change; the gateway's timer)`);
  assert.ok(late < 5000, `cut off within seconds of the expiry (${late} ms)`);
  assert.is(statSync(gwFile).mtimeMs, mtime, 'the file did not change');
  const aliceKey = listed('alice').publicKey;
  await waitFor(() => readStatus(gwIf)?.inactive?.[aliceKey]?.state === 'expired', 10_000, 50, 'expired in the status file');
  assert.is(listed('alice').state, 'expired');
  await waitFor(() => procs[0].out().includes('expired alice (cut off)'), 10_000, 50, 'the expiry logged');
  const r = wgts(['peer', 'enable', gwFile, 'alice']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /alice expired at .*; enable it with a new date: wgts peer enable .* alice --expires DATE \(or --expires never\)/);
  wgtsOk(['peer', 'enable', gwFile, 'alice', '--expires', 'never']);
  await within(30_000, 'alice back', () => app(lapA) === APP);
  assert.not.match(readFileSync(gwFile, 'utf8'), /^Expires/m);
});

test('peer rekey: the old key no longer gets a handshake, the new config works; same address and rules', async () => {
  const before = listed('bob');
  const oldConfig = readFileSync(bFile, 'utf8');
  const newFile = join(work, `${uniqueIfname('ok')}.conf`);
  const r = wgts(['peer', 'rekey', gwFile, 'bob', '--out', newFile]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`the running gateway ${gwIf} \\(pid \\d+\\) dropped the old key`));
  const after = listed('bob');
  assert.is.not(after.publicKey, before.publicKey);
  const same = (p: Listed): string => JSON.stringify({ ...p, publicKey: '', issued: '', online: null, latestHandshake: null, endpoint: null, rxBytes: null, txBytes: null });
  assert.is(same(after), same(before), 'same name, address, rules, state');
  assert.not.ok(devicePeers().includes(before.publicKey));
  // The old laptop config, brought up afresh: its handshake fails.
  stock?.down();
  stock = stockLaptopUp(lapB, bFile);
  assert.is(readFileSync(bFile, 'utf8'), oldConfig);
  for (let i = 0; i < 3; i++) { assert.is(app(lapB), null, 'the old key gets nowhere'); await sleep(500); }
  assert.match(lapB.exec('wg', ['show', bIf, 'latest-handshakes']), /\t0\n/, 'no handshake with the old key');
  stock.down();
  stock = stockLaptopUp(lapB, newFile);
  await within(10_000, 'the new key works', () => app(lapB) === APP);
  assert.match(readFileSync(newFile, 'utf8'), /^Address = 10\.123\.0\.3\/32$/m, 'same address');
});

test('gateway set / host: applied live; client configs outdated by a new endpoint or network until peer config re-issues them', async () => {
  // A DNS name added and removed live.
  const dig = (name: string): string => lapA.tryExec('dig', ['+short', '+time=2', '+tries=1', '@10.123.0.1', name]).stdout.trim();
  assert.is(dig('db.shop'), '');
  const added = wgtsOk(['gateway', 'host', 'add', gwFile, 'db=10.124.0.11']);
  assert.match(added, new RegExp(`host db=10\\.124\\.0\\.11\\nthe running gateway ${gwIf} \\(pid \\d+\\) answers the new names \\(\\d+ ms\\)`));
  assert.is(dig('db.shop'), '10.124.0.11');
  wgtsOk(['gateway', 'host', 'remove', gwFile, 'db']);
  assert.is(dig('db.shop'), '');
  const bad = wgts(['gateway', 'host', 'add', gwFile, 'ext=192.168.9.9']);
  assert.match(bad.stderr, /192\.168\.9\.9 is outside the networks/);

  // A new endpoint: every config is outdated, nothing changes for the running tunnel.
  const set = wgtsOk(['gateway', 'set', gwFile, '--endpoint', '10.200.0.1:51820', '--network', '10.124.0.0/24', '--network', '10.125.0.0/24']);
  assert.match(set, /: networks\noutdated client configs now: alice \(allowed\), bob \(allowed\)\n/);
  assert.match(set, new RegExp(`the running gateway ${gwIf} \\(pid \\d+\\) applied it`));
  assert.match(gw.exec('iptables', ['-S', 'FORWARD']), new RegExp(`-A FORWARD -d 10\\.125\\.0\\.0/24 -i ${gwIf} `), 'the new network is forwarded');
  assert.equal(list().map((p) => [p.name, p.config, p.outdated]), [['alice', 'outdated', ['allowed']], ['bob', 'outdated', ['allowed']]]);
  assert.match(wgtsOk(['peer', 'list', gwFile]), /OUTDATED \(allowed\)/);
  const re = wgts(['peer', 'config', gwFile, 'alice']);
  assert.match(re.stdout, /^PrivateKey = <PASTE the PrivateKey of your current config: the gateway does not store it>$/m);
  assert.match(re.stdout, /^AllowedIPs = 10\.124\.0\.0\/24, 10\.125\.0\.0\/24, 10\.123\.0\.1\/32$/m);
  assert.not.match(re.stdout, /^PresharedKey = [A-Za-z0-9+/]{43}=$/m, 'no secret printed');
  assert.match(re.stderr, /recorded as issued to alice \(it was outdated: allowed\)/);
  assert.equal(list().map((p) => [p.name, p.config]), [['alice', 'current'], ['bob', 'outdated']]);
  // Back: bob's config is current again (what it holds is what the gateway issues).
  wgtsOk(['gateway', 'set', gwFile, '--network', '10.124.0.0/24']);
  assert.is(listed('bob').config, 'current');
  assert.is(app(lapA), APP);
});

test.after(() => {
  trySh('tmux', ['-L', tmuxSocket, 'kill-server']);
  try { stock?.down(); } catch { /* the namespace goes anyway */ }
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  for (const ns of [gw, proj, lapA, lapB]) ns?.delete();
  for (const ifname of [gwIf, aIf, bIf]) {
    rmSync(statusPath(ifname), { force: true });
    rmSync(socketPath(ifname), { force: true });
  }
  rmSync(work, { recursive: true, force: true });
});

test.run();
