// The wgts-go daemon keeps no copy of its keys (issue 10, section 5), end to end: it is configured
// by the real `wg setconf` (private key and preshared key travel as hex over the UAPI socket),
// completes handshakes with Debian's wireguard-go in another namespace, answers `wg showconf`
// (which prints the private key), and is then searched:
// - its heap snapshot (written on SIGUSR2 via --heapsnapshot-signal, after a full GC) holds the
//   private key and the preshared key in no text form;
// - its memory (/proc/PID/mem) holds each exactly once: the engine's own copy, in use.
// The search helpers are shown to find deliberate copies in test/noise/secrets.test.ts.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keyFromBase64 } from '../../src/crypto/keys.js';
import { Netns, waitFor } from '../helpers/netns.js';
import { countInMemory, findInSnapshot, needleOf } from '../helpers/secrets.js';
import { genkey, ping, secretFile, startDaemon, uniqueIfname, wg, type Daemon } from '../helpers/wg.js';

const A4 = '10.79.0.1';
const B4 = '10.79.0.2';

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

    a.proc.kill('SIGUSR2');
    const snapshot = await waitFor(() => {
      const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot'));
      if (f === undefined) return false;
      const p = join(dir, f);
      const size = statSync(p).size;
      return size > 0 && readFileSync(p, 'latin1').trimEnd().endsWith(']}') ? p : false;
    }, 60_000, 200, 'heap snapshot written');
    assert.ok(typeof snapshot === 'string' && existsSync(snapshot));
    const priv = keyFromBase64(keyA.priv)!;
    const pskBytes = keyFromBase64(psk)!;
    assert.equal(findInSnapshot(snapshot, new Map([['private key', priv], ['preshared key', pskBytes]])), [], 'key text in the daemon heap');
    assert.equal(countInMemory(a.proc.pid!, [needleOf(priv), needleOf(pskBytes)]), [1, 1], 'private key and preshared key each exactly once in memory');
  } finally {
    await a?.stop();
    await b?.stop();
    nsA.delete();
    nsB.delete();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
