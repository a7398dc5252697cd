// `wgts up` as a systemd service, without systemd: a gateway in a namespace started the way
// systemd starts a Type=notify unit ($NOTIFY_SOCKET naming an abstract datagram socket, bound here
// with SO_PASSCRED by a stand-in receiver). READY=1 comes from the main process only once the
// interface is up: the receiver freezes the sender on READY=1 and looks at the namespace while
// it is stopped (addresses, link, firewall rules, the DNS listener, the status file). A reload
// (file change, `wgts reload`, which ExecReload runs) is RELOADING=1 ... READY=1, a failed one
// makes `wgts reload` exit 1 with the FILE:LINE reason while the interface keeps running, and
// SIGTERM says STOPPING=1. The JSON logs of the same runs (gateway, laptop, wgts-go) are one object
// per line and hold no private or preshared key, in base64 or hex.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { templateUnit } from '../../src/cli/service-unit.js';
import { statusPath } from '../../src/gateway/status.js';
import { Netns, waitFor } from '../helpers/netns.js';
import { notifyReceiver, type NotifyReceiver } from '../helpers/notify.js';
import { guardResolvConf } from '../helpers/stock-laptop.js';
import { startUp, stopUps, type UpProc, wgts, wgtsOk } from '../helpers/up.js';
import { genkey, socketPath, uniqueIfname, wgtsGoScript, wgtsScript } from '../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-service-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const gwIf = uniqueIfname('gs');
const lIf = uniqueIfname('ls');
const conf = (ifname: string): string => join(work, `${ifname}.conf`);
const gwFile = conf(gwIf);

let gw: Netns;
let lap: Netns;
const procs: UpProc[] = [];
/** Every log the test saw, for the secrets check. */
const logs: string[] = [];
/** Secrets that must never be logged: base64 keys. */
const secrets: string[] = [];

/** The value of `Key = value` lines of a config text. */
function values(text: string, key: string): string[] {
  return [...text.matchAll(new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'gmi'))].map((m) => m[1] as string);
}

test('setup: gateway and laptop namespaces, a gateway config, a laptop', () => {
  gw = new Netns('sgw');
  lap = new Netns('slap');
  gw.link(lap, { ifname: 'inet0', addrs: ['10.200.0.1/24'] }, { ifname: 'eth0', addrs: ['10.200.0.10/24'] });
  guardResolvConf(gw);
  guardResolvConf(lap);
  wgtsOk(['gateway', 'init', gwFile, '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10']);
  wgtsOk(['peer', 'add', gwFile, 'laptop', '--out', conf(lIf)]);
});

test('READY=1 from the main process once the gateway is up; RELOADING=1 ... READY=1 around reloads; STOPPING=1', async () => {
  const check = [`ip -o addr show dev ${gwIf}`, `ip -o link show dev ${gwIf}`, 'iptables -w 5 -S', 'iptables -w 5 -t nat -S', 'ss -Hlun', `cat ${statusPath(gwIf)}`].join('; ');
  const rx: NotifyReceiver = await notifyReceiver(gw, `@wgts-test-ready-${process.pid}`, { freezeOn: 'READY=1', check });
  try {
    const up = await startUp(gw, gwFile, gwIf, procs, { NOTIFY_SOCKET: rx.address, WGTS_LOG_FORMAT: 'json', LOG_LEVEL: 'verbose' });
    const ready = await rx.waitFor('READY=1');
    assert.is(rx.received()[0], ready, 'nothing before READY=1');
    assert.is(ready.pid, up.pid(), 'sent by wgts up itself (NotifyAccess=main)');
    const seen = ready.check ?? '';
    assert.match(seen, `inet 10.123.0.1/24`, 'the tunnel address is there');
    assert.match(seen, new RegExp(`${gwIf}: <[^>]*\\bUP\\b`), 'the link is up');
    assert.match(seen, new RegExp(`-A FORWARD -d 10.124.0.0/24 -i ${gwIf} .*wgts:${gwIf}:${up.pid()}`), 'the FORWARD accept is in place');
    assert.match(seen, new RegExp(`-A POSTROUTING -s 10.123.0.0/24 -d 10.124.0.0/24 .*wgts:${gwIf}:${up.pid()}.* MASQUERADE`), 'the masquerade is in place');
    assert.match(seen, /10\.123\.0\.1:53\b/, 'DNS listens');
    assert.match(seen, `"interface": "${gwIf}"`, 'the status file exists');
    assert.ok((ready.children ?? []).length >= 1, 'wgts up had a child then (ip monitor address)');
    assert.equal((ready.children ?? []).filter(Boolean), [], 'no child inherited NOTIFY_SOCKET');
    assert.match(ready.lines.join('\n'), new RegExp(`STATUS=gateway ${gwIf} up: 1 peer\\(s\\), UDP 51820`));

    // A file change (a peer added) reloads: RELOADING=1 with MONOTONIC_USEC, then READY=1.
    let from = rx.received().length;
    const bob = wgtsOk(['peer', 'add', gwFile, 'bob']);
    secrets.push(...values(bob, 'PrivateKey'), ...values(bob, 'PresharedKey'));
    const reloading = await rx.waitFor('RELOADING=1', from);
    assert.ok(reloading.lines.some((l) => /^MONOTONIC_USEC=[0-9]+$/.test(l)));
    const again = await rx.waitFor('READY=1', from);
    assert.ok(rx.received().indexOf(again) > rx.received().indexOf(reloading));
    assert.match(again.lines.join('\n'), 'up: 2 peer(s)', 'the status line after the reload counts bob');

    // `wgts reload` (ExecReload): SIGHUP, returns once the running process has read the file.
    from = rx.received().length;
    const r = wgts(['reload', gwIf], gw);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, `wgts: ${gwIf}: reloaded\n`);
    await rx.waitFor('READY=1', from);
    assert.equal(rx.received().slice(from).map((n) => n.lines[0]), ['RELOADING=1', 'READY=1']);

    // A file that does not parse: wgts reload fails with FILE:LINE, the interface keeps running.
    const good = readFileSync(gwFile, 'utf8');
    writeFileSync(gwFile, `${good}\n[Peer]\nPublicKey = not-a-key\n`, { mode: 0o600 });
    const bad = wgts(['reload', gwFile], gw);
    assert.is(bad.status, 1);
    assert.match(bad.stderr, `wgts: ${gwIf}: reload failed (attempt `);
    assert.match(bad.stderr, new RegExp(`${gwFile.replace(/[.]/g, '\\.')}:[0-9]+: `), 'the reason at its line');
    assert.ok(existsSync(socketPath(gwIf)) && up.exit() === null, 'still running');
    const failedReady = await waitFor(() => rx.received().find((n) => n.lines.some((l) => l.includes('reload FAILED'))), 5000, 20, 'READY=1 with the failure');
    assert.match((failedReady?.lines ?? []).join('\n'), /STATUS=gateway .* reload FAILED \(1 attempt\(s\)\): .*:[0-9]+: /, 'systemctl status would say so');
    writeFileSync(gwFile, good, { mode: 0o600 });
    const fixed = wgts(['reload', gwIf], gw);
    assert.is(fixed.status, 0, fixed.stderr);

    // Not running: a clear error.
    const none = wgts(['reload', 'nosuchif0'], gw);
    assert.is(none.status, 1);
    assert.match(none.stderr, 'no wgts up runs nosuchif0');

    from = rx.received().length;
    up.kill('SIGTERM');
    const stopping = await rx.waitFor('STOPPING=1', from);
    assert.is(stopping.pid, up.pid());
    await waitFor(() => up.exit() !== null, 10_000, 25, 'wgts up exit');
    assert.is(up.exit(), 0);
    logs.push(up.out());
  } finally {
    rx.stop();
    await stopUps(procs);
  }
});

test('JSON logs: one object per line with time, level, interface, peer name and short key, event; no secret', async () => {
  const gwText = readFileSync(gwFile, 'utf8');
  const lapText = readFileSync(conf(lIf), 'utf8');
  secrets.push(...values(gwText, 'PrivateKey'), ...values(gwText, 'PresharedKey'), ...values(lapText, 'PrivateKey'), ...values(lapText, 'PresharedKey'));
  const laptopKey = values(gwText, 'PublicKey')[0] as string;
  const g = await startUp(gw, gwFile, gwIf, procs, { WGTS_LOG_FORMAT: 'json', LOG_LEVEL: 'verbose' });
  // The laptop with the option rather than the variable.
  const l = lap.spawn(process.execPath, [wgtsScript, 'up', '--log-format', 'json', conf(lIf)], { env: { ...process.env, LOG_LEVEL: 'verbose' } });
  let lOut = '';
  l.stdout?.on('data', (d: Buffer) => { lOut += d.toString(); });
  l.stderr?.on('data', (d: Buffer) => { lOut += d.toString(); });
  try {
    // The laptop's keepalive brings a handshake; then a reload that removes bob.
    await waitFor(() => g.out().includes('"event":"send","message":"Sending handshake response"'), 15_000, 50, 'a handshake answered by the gateway')
      .catch((e: unknown) => { throw new Error(`${String(e)}\ngateway:\n${g.out()}\nlaptop:\n${lOut}`); });
    wgtsOk(['peer', 'remove', gwFile, 'bob']);
    await waitFor(() => g.out().includes('"event":"peer-removed"'), 10_000, 50, 'the removal logged');
    l.kill('SIGTERM');
    await waitFor(() => l.exitCode !== null, 10_000, 25, 'the laptop stopped');
  } finally {
    if (l.exitCode === null) l.kill('SIGKILL');
    await stopUps(procs);
  }
  logs.push(g.out(), lOut);

  const records = [g.out(), lOut].flatMap((text) => text.split('\n').filter((x) => x !== '').map((line) => {
    let v: unknown;
    try { v = JSON.parse(line); } catch { assert.unreachable(`not JSON: ${line}`); }
    return v as Record<string, unknown>;
  }));
  for (const rec of records) {
    assert.match(String(rec.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, JSON.stringify(rec));
    assert.ok(['debug', 'info', 'warn', 'error'].includes(String(rec.level)), JSON.stringify(rec));
    assert.ok(rec.interface === gwIf || rec.interface === lIf, JSON.stringify(rec));
    assert.is(typeof rec.message, 'string');
    assert.equal(Object.keys(rec), ['time', 'level', 'interface', 'peer', 'key', 'event', 'message'].filter((k) => k in rec), 'fields in their order');
    if ('key' in rec) assert.match(String(rec.key), /^[A-Za-z0-9+/]{4}…[A-Za-z0-9+/]{4}$/);
  }
  const short = `${laptopKey.slice(0, 4)}…${laptopKey.slice(39, 43)}`;
  assert.ok(records.some((r) => r.interface === gwIf && r.peer === 'laptop' && r.key === short && r.level === 'debug'), 'device lines name the peer of the file');
  assert.ok(records.some((r) => r.event === 'peer-removed' && r.peer === 'bob' && r.level === 'info'), 'a removed peer, by name and key');
  assert.ok(records.some((r) => r.interface === gwIf && r.event === 'up'));
  assert.ok(records.some((r) => r.interface === lIf && r.event === 'up'));
  assert.ok(records.some((r) => r.interface === lIf && r.event === 'down'));
});

test('wgts-go --log-format json (and WGTS_LOG_FORMAT): JSON lines, no secret', async () => {
  const ifname = uniqueIfname('js');
  const me = genkey();
  const peer = genkey();
  const psk = wgtsOk(['genpsk']).trim();
  secrets.push(me.priv, psk);
  for (const [args, env] of [[['-f', '--log-format', 'json', ifname], {}], [['-f', ifname], { WGTS_LOG_FORMAT: 'json' }]] as const) {
    const d = gw.spawn(process.execPath, [wgtsGoScript, ...args], { env: { ...process.env, LOG_LEVEL: 'verbose', ...env } });
    let out = '';
    d.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
    d.stderr?.on('data', (b: Buffer) => { out += b.toString(); });
    await waitFor(() => existsSync(socketPath(ifname)), 10_000, 25, 'wgts-go socket');
    const keyFile = join(work, 'k');
    writeFileSync(keyFile, `${me.priv}\n`, { mode: 0o600 });
    const pskFile = join(work, 'p');
    writeFileSync(pskFile, `${psk}\n`, { mode: 0o600 });
    gw.exec('wg', ['set', ifname, 'private-key', keyFile, 'peer', peer.pub, 'preshared-key', pskFile, 'endpoint', '10.200.0.10:9', 'allowed-ips', '10.9.0.2/32', 'persistent-keepalive', '1']);
    await waitFor(() => out.includes('"event":"send"'), 10_000, 25, 'a handshake initiation logged');
    // A UAPI client whose first line is a key assignment: refused and logged without the key.
    await new Promise<void>((resolve) => {
      const c = connect(socketPath(ifname), () => c.write(`private_key=${Buffer.from(me.priv, 'base64').toString('hex')}\n`));
      c.on('error', () => resolve());
      c.on('close', () => resolve());
    });
    await waitFor(() => out.includes('invalid UAPI operation: private_key=…'), 5000, 25, 'the refusal logged');
    d.kill('SIGTERM');
    await waitFor(() => d.exitCode !== null, 5000, 25, 'wgts-go exit');
    const lines = out.split('\n').filter((x) => x !== '');
    assert.ok(lines.length >= 3, out);
    for (const line of lines) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      assert.is(rec.interface, ifname);
    }
    assert.match(out, `"key":"${peer.pub.slice(0, 4)}…${peer.pub.slice(39, 43)}","event":"peer-created","message":"UAPI: Created"`);
    logs.push(out);
  }
  const bad = gw.tryExec(process.execPath, [wgtsGoScript, '--log-format', 'xml', ifname]);
  assert.is(bad.status, 2, 'an unknown format is a usage error');
});

test('with the unit\'s capability bounding set, a sweep removes dead owners\' rules but never those of a running wgts it may not inspect', async () => {
  const caps = /^CapabilityBoundingSet=(.*)$/m.exec(templateUnit({ node: '/n', script: '/s' }))?.[1]?.split(' ') ?? [];
  assert.ok(caps.length >= 2);
  const bounding = ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',');
  const g = await startUp(gw, gwFile, gwIf, procs);
  try {
    const mine = (): string[] => gw.exec('iptables', ['-w', '5', '-S']).split('\n').filter((l) => l.includes(`wgts:${gwIf}:${g.pid()}`));
    const before = mine();
    assert.ok(before.length >= 3, before.join('\n'));
    gw.exec('iptables', ['-w', '5', '-A', 'INPUT', '-p', 'tcp', '--dport', '9', '-m', 'comment', '--comment', 'wgts:zz0:999999', '-j', 'ACCEPT']);
    // `wgts down` sweeps before it reports the interface it was asked for; run it sandboxed.
    const r = gw.tryExec('setpriv', ['--bounding-set', bounding, '--inh-caps', '-all', process.execPath, wgtsScript, 'down', 'nosuchif0']);
    assert.match(r.stdout, 'removed 1 firewall rule(s) of zz0', `the sweep ran with those capabilities: ${r.stdout}${r.stderr}`);
    assert.equal(mine(), before, 'the running gateway keeps every rule');
  } finally {
    await stopUps(procs);
  }
});

test('no private or preshared key in any log, in base64 or hex', () => {
  assert.ok(secrets.length >= 7, `the secrets were collected (${secrets.length})`);
  const all = logs.join('\n');
  assert.ok(all.length > 2000, 'there were logs to search');
  for (const s of secrets) {
    const hex = Buffer.from(s, 'base64').toString('hex');
    assert.is(hex.length, 64);
    assert.not.ok(all.includes(s), `a key in base64 in the logs: ${s.slice(0, 4)}...`);
    assert.not.ok(all.toLowerCase().includes(hex), 'a key in hex in the logs');
    assert.not.ok(all.includes(s.slice(0, 20)), 'not even a part of one');
  }
});

test('teardown', () => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  lap.delete();
  gw.delete();
});

test.run();
