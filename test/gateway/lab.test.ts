// `wgts lab` as a user runs it: the real CLI as a child process, with the laptop on wgts up and on
// wg-quick + wireguard-go, then --keep (the lab stays usable) and --clean, a failing check, Ctrl-C
// in the middle, and missing programs. After every run no wgts-lab-* namespace or lab file may
// remain, and no secret key may appear in the output. The lab's names are fixed (wgts-lab-*), so
// the file refuses to start when a lab is already running on this machine instead of removing it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { iperfResult, LAB_DIR, LAB_IF, LAB_NS, LAB_PREFIX, redactConfig } from '../../src/gateway/lab.js';
import { LAB_HA_IF } from '../../src/gateway/ha/lab-ha.js';
import { wgtsScript } from '../helpers/wg.js';

interface Run { code: number | null; out: string; ms: number }

/**
 * Runs `wgts lab ARGS` to its end (killed after `limitMs`) in its own process group, as a shell
 * runs a foreground job; `onOutput` sees the output as it grows and can signal the group, as
 * Ctrl-C in a terminal does.
 */
function lab(args: string[], opts: { env?: NodeJS.ProcessEnv; limitMs?: number; onOutput?: (out: string, kill: (s: NodeJS.Signals) => void) => void } = {}): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [wgtsScript, 'lab', ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const kill = (s: NodeJS.Signals): void => {
      try { process.kill(-(child.pid ?? 0), s); } catch { /* the group is gone */ }
    };
    const add = (d: Buffer): void => { out += d.toString(); opts.onOutput?.(out, kill); };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => kill('SIGKILL'), opts.limitMs ?? 60_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out, ms: Date.now() - t0 }); });
  });
}

const labNamespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(LAB_PREFIX));
const labEtc = (): string[] => (existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((n) => n.startsWith(LAB_PREFIX)) : []);
const labSockets = (): string[] => [...Object.values(LAB_IF), ...Object.values(LAB_HA_IF)].filter((i) => existsSync(`/var/run/wireguard/${i}.sock`) || existsSync(`/var/run/wgts/${i}.json`));

/** Nothing of a lab is left on the machine. */
function assertGone(what: string): void {
  assert.equal(labNamespaces(), [], `${what}: no wgts-lab-* namespace remains`);
  assert.equal(labEtc(), [], `${what}: no /etc/netns/wgts-lab-* remains`);
  assert.equal(labSockets(), [], `${what}: no lab UAPI socket or status file remains`);
  assert.not.ok(existsSync(LAB_DIR), `${what}: ${LAB_DIR} is gone`);
}

/** No private or preshared key in the output. */
function assertNoSecrets(out: string): void {
  assert.not.match(out, /PrivateKey = [A-Za-z0-9+/]{43}=/);
  assert.not.match(out, /PresharedKey = [A-Za-z0-9+/]{43}=/);
  assert.match(out, /^ +PrivateKey = \(hidden\)$/m);
  assert.match(out, /^ +PresharedKey = \(hidden\)$/m);
}

/** The demonstration's key results, all passed. */
function assertDemo(r: Run, laptopLine: RegExp): void {
  assert.is(r.code, 0, r.out);
  assert.not.match(r.out, '✘');
  assert.match(r.out, laptopLine);
  assert.match(r.out, /✔ handshake: wg show wgtslab-laptop: \d+ s ago; wgts show wgtslab-gw: peer laptop from 192\.0\.2\.2:\d+/);
  assert.match(r.out, /✔ getent hosts app: 10\.124\.0\.10 /);
  assert.match(r.out, "✔ getent hosts www.example.com: 203.0.113.80 www.example.com (the gateway forwarded it to the gateway host's resolver, 127.0.0.53)\n");
  assert.match(r.out, '✔ curl -s http://app:3000/: hello from app (10.124.0.10)\n');
  assert.match(r.out, '✔ db:5432 banner: db 10.124.0.11:5432 ready; client 10.124.0.1 ');
  assert.match(r.out, /✔ iperf3 laptop -> app, 1 s: [1-9][0-9]* Mbit\/s/);
  assert.match(r.out, /✔ ping app: 5\/5 replies/);
  assert.match(r.out, 'inbound: app opens a connection to a service on the laptop (10.123.0.2:5432), with a route to the tunnel');
  assert.match(r.out, /inbound[^]*✔ app -> 10\.123\.0\.2:5432 refused: no connection within 1500 ms\n[^]*✔ wgts show wgtslab-gw: peer laptop, refused packets: [1-9][^]*✔ meanwhile the laptop -> curl -s http:\/\/app:3000\/: hello from app/);
  assert.match(r.out, 'access rule: the laptop switches to profile "limited" (--allow 10.124.0.10:3000/tcp)');
  assert.match(r.out, /access rule[^]*✔ curl -s http:\/\/app:3000\/: hello from app[^]*✔ db:5432 blocked: no connection within 1500 ms\n[^]*✔ app:3001 blocked: no connection within 1500 ms\n/);
  assert.match(r.out, /✔ wgts show wgtslab-gw: peer limited, denied packets: [1-9]/);
  assert.match(r.out, /all \d+ checks passed in [\d.]+ s; lab removed/);
  assertNoSecrets(r.out);
}

/** Set once this file found no lab running: from then on every wgts-lab-* namespace is its own. */
let created = false;

/** `wgts lab --clean` when anything of a lab is left. */
function removeLeftovers(): void {
  if (labNamespaces().length > 0 || existsSync(LAB_DIR)) spawnSync(process.execPath, [wgtsScript, 'lab', '--clean'], { stdio: 'inherit', timeout: 30_000 });
}

test('pure helpers: client config redaction, iperf3 JSON', () => {
  const conf = '[Interface]\nPrivateKey = QHorQsLLNtufpFnZWiiHZBCqqF84tToP4GanXe3CdWA=\nAddress = 10.123.0.2/32\n\n[Peer]\nPublicKey = EwoMzaF+ah/+bHOBrJr09NFh157SdyHCWoMHkohSwyA=\nPresharedKey = 0xRjTaVUwxB95ZLx2/A53gE6b+9AcdbdX+ztVnIc8LI=\n';
  assert.is(redactConfig(conf), '[Interface]\nPrivateKey = (hidden)\nAddress = 10.123.0.2/32\n\n[Peer]\nPublicKey = EwoMzaF+ah/+bHOBrJr09NFh157SdyHCWoMHkohSwyA=\nPresharedKey = (hidden)\n');
  assert.equal(iperfResult('{"end":{"sum_received":{"bits_per_second":123456789.5}}}'), { bitsPerSecond: 123456789.5 });
  assert.equal(iperfResult('{"start":{},"end":{},"error":"unable to connect to server: Connection refused"}'), { bitsPerSecond: 0, error: 'unable to connect to server: Connection refused' });
  assert.equal(iperfResult('iperf3: error'), { bitsPerSecond: 0, error: 'no JSON from iperf3' });
});

test('no lab is running before this file starts', () => {
  assert.equal(labNamespaces(), [], 'a wgts lab is running on this machine: remove it with `wgts lab --clean` before running this file');
  assert.not.ok(existsSync(LAB_DIR));
  created = true;
});

test('missing programs: refused before anything is created', async () => {
  const r = await lab([], { env: { ...process.env, PATH: '/nonexistent' } });
  assert.is(r.code, 1);
  assert.match(r.out, 'wgts lab: missing program(s): ip, wg, iptables, curl, getent');
  assertGone('refused run');
});

test('wgts lab (laptop: wgts up): every step passes, then the lab is gone', async () => {
  const r = await lab(['--seconds', '1']);
  console.log(`  wgts lab: ${(r.ms / 1000).toFixed(1)} s`);
  assertDemo(r, /✔ laptop: wgts up wgtslab-laptop\.conf in wgts-lab-laptop/);
  assert.match(r.out, '✔ switch: wgts down wgtslab-laptop; wgts up wgtslab-limited.conf');
  assertGone('after wgts lab');
});

test('wgts lab --peer wireguard-go (stock wg-quick): every step passes, then the lab is gone', async () => {
  const r = await lab(['--peer', 'wireguard-go', '--seconds', '1']);
  console.log(`  wgts lab --peer wireguard-go: ${(r.ms / 1000).toFixed(1)} s`);
  assertDemo(r, /✔ laptop: wg-quick up wgtslab-laptop\.conf in wgts-lab-laptop/);
  assert.match(r.out, '✔ switch: wg-quick down wgtslab-laptop.conf; wg-quick up wgtslab-limited.conf');
  assertGone('after wgts lab --peer wireguard-go');
});

test('wgts lab --ha: the failover pair from one registry, kill -9 of A, B serves within the measured interruption, A back as BACKUP; then gone', async () => {
  const r = await lab(['--ha'], { limitMs: 120_000 });
  console.log(`  wgts lab --ha: ${(r.ms / 1000).toFixed(1)} s`);
  assert.is(r.code, 0, r.out);
  assert.not.match(r.out, '✘');
  assert.match(r.out, /✔ gateway A: wgts up etcd:\/\/10\.210\.0\.5:2379\/wgts\/shop --ifname wgtslab-ha-a --endpoints-file endpoints in wgts-lab-ha-gwa/);
  assert.match(r.out, /✔ gateway B: wgts up etcd:\/\/10\.210\.0\.5:2379\/wgts\/shop --ifname wgtslab-ha-b /);
  assert.match(r.out, /✔ keepalived on A \(wgts ha keepalived-conf --wg wgtslab-ha-a .*\): MASTER after/);
  assert.match(r.out, '  notify_master "');
  assert.match(r.out, '✔ laptop: wg-quick up wgtslab-halap.conf (wireguard-go), Endpoint 10.200.0.1:51820');
  assert.match(r.out, /kill -9 \d+ \(wgts up of gateway A\)[^]*✔ keepalived: A FAULT \(its TUN device vanished\), B MASTER after/);
  const m = /✔ curl was interrupted for ([\d.]+) s/.exec(r.out);
  assert.ok(m !== null && Number(m[1]) < 10, 'the interruption is measured and short');
  assert.match(r.out, '✔ a new connection reaches app from 10.124.0.3 (gateway B\'s masquerade)');
  assert.match(r.out, 'used again: error ECONNRESET');
  assert.match(r.out, /✔ 3 s later 10\.200\.0\.1 is still on B \(nopreempt: no second move\); curl failed 0 of \d+ times/);
  assert.match(r.out, /all \d+ checks passed in [\d.]+ s; lab removed/);
  assertGone('after wgts lab --ha');
});

test('--keep leaves a working lab (a second lab is refused), --clean removes it', async () => {
  const r = await lab(['--keep', '--seconds', '1']);
  try {
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /✔ back to the full profile \(--keep\): wgts down wgtslab-limited; wgts up wgtslab-laptop\.conf/);
    assert.match(r.out, `sudo ip netns exec ${LAB_NS.laptop} bash`);
    assert.match(r.out, /remove it: +sudo .*lab --clean/);
    assertNoSecrets(r.out);
    assert.equal(labNamespaces().sort(), Object.values(LAB_NS).sort());
    // What the printed instructions promise, from outside the lab command.
    const curl = spawnSync('ip', ['netns', 'exec', LAB_NS.laptop, 'curl', '-s', '-m', '5', 'http://app:3000/'], { encoding: 'utf8', timeout: 10_000 });
    assert.is(curl.stdout, 'hello from app (10.124.0.10)\n', 'the laptop reaches app by name after the lab command exited');
    const db = spawnSync('ip', ['netns', 'exec', LAB_NS.laptop, 'getent', 'hosts', 'db'], { encoding: 'utf8', timeout: 10_000 });
    assert.match(db.stdout, /^10\.124\.0\.11\s/);
    const outside = spawnSync('ip', ['netns', 'exec', LAB_NS.laptop, 'getent', 'hosts', 'www.example.com'], { encoding: 'utf8', timeout: 10_000 });
    assert.match(outside.stdout, /^203\.0\.113\.80\s/, 'the lab\'s resolver keeps answering');

    const again = await lab([]);
    assert.is(again.code, 1);
    assert.match(again.out, /a lab already exists \(namespaces wgts-lab-app, wgts-lab-db, wgts-lab-gw, wgts-lab-laptop;/);
    assert.match(again.out, /remove it: sudo .*lab --clean/);
    assert.equal(labNamespaces().length, 4, 'the refused run left the running lab alone');

    const clean = await lab(['--clean']);
    assert.is(clean.code, 0, clean.out);
    assert.match(clean.out, /stopped [4-9] process\(es\); removed namespaces wgts-lab-app, wgts-lab-db, wgts-lab-gw, wgts-lab-laptop; files /);
    assertGone('after --clean');
    const twice = await lab(['--clean']);
    assert.is(twice.code, 0);
    assert.match(twice.out, 'nothing to clean');
  } finally {
    // A kept lab whose checks failed stays too: remove it so the next tests can run.
    if (!r.out.includes('a lab already exists')) removeLeftovers();
  }
});

test('a failing check: ✘ on its line, exit 1, the lab is still removed', async () => {
  // A curl that answers something else, first in PATH: the lab's three curl checks must fail.
  const bin = mkdtempSync(join(tmpdir(), 'wgts-labtest-'));
  writeFileSync(join(bin, 'curl'), '#!/bin/sh\necho "not the app"\n', { mode: 0o755 });
  try {
    const r = await lab(['--seconds', '1'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    assert.is(r.code, 1, r.out);
    assert.match(r.out, /^ *\d+\. ✘ curl -s http:\/\/app:3000\/: not the app$/m);
    assert.match(r.out, /✔ getent hosts app: 10\.124\.0\.10 /, 'the other checks still ran');
    assert.match(r.out, /✔ db:5432 blocked/);
    assert.match(r.out, /✘ meanwhile the laptop -> curl -s http:\/\/app:3000\/: not the app/);
    assert.match(r.out, /\n3 of 21 checks failed in [\d.]+ s; lab removed/);
    assertGone('after a failed check');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('Ctrl-C in the middle: the lab is removed, exit 130', async () => {
  let sent = false;
  const r = await lab(['--seconds', '5'], {
    onOutput: (out, kill) => {
      if (!sent && out.includes('✔ db:5432 banner')) {
        sent = true;
        kill('SIGINT');
      }
    },
  });
  assert.ok(sent, r.out);
  assert.is(r.code, 130, r.out);
  assert.match(r.out, 'interrupted (SIGINT): removing the lab');
  assertGone('after Ctrl-C');
});

test.after(() => {
  // Only when this file ran labs: whatever a failed test left is removed.
  if (created) removeLeftovers();
});

test.run();
