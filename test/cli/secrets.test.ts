// The long-running processes keep no copy of their keys (issue 10, section 5), end to end:
// - wgts-go, configured by the real `wg setconf` (private and preshared key travel as hex over the
//   UAPI socket), after handshakes with Debian's wireguard-go, `wg showconf` (which prints the
//   private key) and the keys set once more;
// - `wgts up FILE` (keys read from the file as base64), after handshakes and a live reload of a
//   changed file.
// Each is then searched: its heap snapshot (written on SIGUSR2 via --heapsnapshot-signal, after a
// full GC) must hold the private key and the preshared key in no text form, and its memory
// (/proc/PID/mem) each exactly once: the engine's own copy, in use. The search helpers are shown
// to find deliberate copies in test/noise/secrets.test.ts.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keyFromBase64 } from '../../src/crypto/keys.js';
import { Netns, waitFor } from '../helpers/netns.js';
import { countInMemory, findInSnapshot, needleOf } from '../helpers/secrets.js';
import { startUp, type UpProc } from '../helpers/up.js';
import { genkey, ping, secretFile, startDaemon, uniqueIfname, wg, type Daemon } from '../helpers/wg.js';

const A4 = '10.79.0.1';
const B4 = '10.79.0.2';

/**
 * Makes process `pid` (started with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR) write a
 * heap snapshot into `dir`, then checks it and the process memory for the two base64 keys.
 */
async function assertNoCopies(pid: number, dir: string, privB64: string, pskB64: string): Promise<void> {
  process.kill(pid, 'SIGUSR2');
  const snapshot = await waitFor(() => {
    const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot'));
    if (f === undefined) return false;
    const p = join(dir, f);
    return statSync(p).size > 0 && readFileSync(p, 'latin1').trimEnd().endsWith(']}') ? p : false;
  }, 60_000, 200, 'heap snapshot written');
  assert.ok(typeof snapshot === 'string' && existsSync(snapshot));
  const priv = keyFromBase64(privB64)!;
  const psk = keyFromBase64(pskB64)!;
  assert.equal(findInSnapshot(snapshot, new Map([['private key', priv], ['preshared key', psk]])), [], 'key text in the heap');
  assert.equal(countInMemory(pid, [needleOf(priv), needleOf(psk)]), [1, 1], 'private key and preshared key each exactly once in memory');
}

test('wgts-go after wg setconf, handshakes and wg showconf: keys in no string, once in memory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-snap-'));
  const nsA = new Netns('ka');
  const nsB = new Netns('kb');
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.78.0.1/24'] }, { ifname: 'vb', addrs: ['10.78.0.2/24'] });
    a = await startDaemon('wgts', nsA, uniqueIfname('ka'), { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}` });
    b = await startDaemon('wireguard-go', nsB, uniqueIfname('kb'));
    const keyA = genkey();
    const keyB = genkey();
    const psk = nsA.exec('wg', ['genpsk']).trim();
    wg(a, ['setconf', a.ifname, secretFile(`[Interface]\nPrivateKey = ${keyA.priv}\nListenPort = 51830\n\n[Peer]\nPublicKey = ${keyB.pub}\n` +
      `PresharedKey = ${psk}\nAllowedIPs = ${B4}/32\nEndpoint = 10.78.0.2:51831\n`)]);
    wg(b, ['setconf', b.ifname, secretFile(`[Interface]\nPrivateKey = ${keyB.priv}\nListenPort = 51831\n\n[Peer]\nPublicKey = ${keyA.pub}\n` +
      `PresharedKey = ${psk}\nAllowedIPs = ${A4}/32\nEndpoint = 10.78.0.1:51830\n`)]);
    for (const [ns, d, addr] of [[nsA, a, A4], [nsB, b, B4]] as const) {
      ns.exec('ip', ['addr', 'add', `${addr}/24`, 'dev', d.ifname]);
      ns.exec('ip', ['link', 'set', d.ifname, 'up']);
    }
    assert.ok(await waitFor(() => ping(nsA, B4), 10_000, 100, 'ping through the tunnel'), 'handshake and ping A->B');
    assert.ok(ping(nsB, A4, { count: 3 }), 'ping B->A');
    assert.match(wg(a, ['showconf', a.ifname]), keyA.priv, 'wg showconf prints the private key (through the get path)');
    // Last before the search, so a copy they left could not yet be overwritten by later work: the
    // same keys set again (parsed, handed over, the engine keeps its own) and read back once more.
    wg(a, ['set', a.ifname, 'private-key', secretFile(keyA.priv), 'peer', keyB.pub, 'preshared-key', secretFile(psk)]);
    assert.match(wg(a, ['showconf', a.ifname]), psk, 'wg showconf prints the preshared key');

    await assertNoCopies(a.proc.pid!, dir, keyA.priv, psk);
  } finally {
    await a?.stop();
    await b?.stop();
    nsA.delete();
    nsB.delete();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wgts up FILE after handshakes and a live reload: keys in no string, once in memory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-snap-'));
  const nsA = new Netns('ua');
  const nsB = new Netns('ub');
  const procs: UpProc[] = [];
  let b: Daemon | undefined;
  try {
    nsA.link(nsB, { ifname: 'va', addrs: ['10.78.0.1/24'] }, { ifname: 'vb', addrs: ['10.78.0.2/24'] });
    b = await startDaemon('wireguard-go', nsB, uniqueIfname('ub'));
    const keyA = genkey();
    const keyB = genkey();
    const psk = nsA.exec('wg', ['genpsk']).trim();
    wg(b, ['setconf', b.ifname, secretFile(`[Interface]\nPrivateKey = ${keyB.priv}\nListenPort = 51831\n\n[Peer]\nPublicKey = ${keyA.pub}\n` +
      `PresharedKey = ${psk}\nAllowedIPs = ${A4}/32\n`)]);
    nsB.exec('ip', ['addr', 'add', `${B4}/24`, 'dev', b.ifname]);
    nsB.exec('ip', ['link', 'set', b.ifname, 'up']);
    const ifname = uniqueIfname('ua');
    const file = join(dir, `${ifname}.conf`);
    const conf = (extra: string): string => `[Interface]\nPrivateKey = ${keyA.priv}\nAddress = ${A4}/32\n\n[Peer]\nPublicKey = ${keyB.pub}\n` +
      `PresharedKey = ${psk}\nAllowedIPs = ${B4}/32${extra}\nEndpoint = 10.78.0.2:51831\nPersistentKeepalive = 25\n`;
    writeFileSync(file, conf(''), { mode: 0o600 });
    const up = await startUp(nsA, file, ifname, procs, { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}` });
    assert.ok(await waitFor(() => ping(nsA, B4), 10_000, 100, 'ping through the tunnel'), 'handshake and ping');
    // A live reload: the file is parsed again and the change applied.
    writeFileSync(file, conf(', 10.79.9.0/24'), { mode: 0o600 });
    assert.ok(await waitFor(() => wg(b!, ['show', b!.ifname, 'dump']).length > 0 && nsA.exec('ip', ['route', 'show', 'dev', ifname]).includes('10.79.9.0/24'), 10_000, 100, 'reload applied'));
    assert.ok(ping(nsA, B4, { count: 2 }), 'ping after the reload');
    await assertNoCopies(up.pid(), dir, keyA.priv, psk);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await waitFor(() => procs.every((p) => p.exit() !== null), 10_000, 50, 'wgts up exit').catch(() => procs.forEach((p) => p.kill('SIGKILL')));
    await b?.stop();
    nsA.delete();
    nsB.delete();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
