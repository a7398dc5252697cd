// The config layer against the real wg(8) and wireguard-go, inside a network namespace of our own
// (no links, no routes; the device is never brought up, endpoints are loopback addresses):
// - what toWgSetconf produces is accepted by `wg setconf`, and `wg showconf` reads back the same
//   device and peer settings our parser found;
// - files that wg rejects, we reject too; where we are deliberately stricter, that is pinned here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, waitFor } from '../helpers/netns.js';
import { diffConfigs } from '../../src/config/diff.js';
import { parseConfig } from '../../src/config/parse.js';
import { toWgSetconf } from '../../src/config/strip.js';
import { FULL, key, mustParse } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-setconf-'));
const ifname = `wgcf${process.pid % 100000}`;
const socket = `/var/run/wireguard/${ifname}.sock`;
let ns: Netns;
let wggo: ChildProcess;

/** Runs `wg setconf` on our device with `text`; returns wg's exit status and stderr. */
function setconf(text: string): { status: number; stderr: string } {
  const file = join(dir, 'in.conf');
  writeFileSync(file, text, { mode: 0o600 });
  return ns.tryExec('wg', ['setconf', ifname, file]);
}

test.before(async () => {
  ns = new Netns('cfg');
  wggo = ns.spawn('wireguard-go', ['-f', ifname]);
  await waitFor(() => existsSync(socket), 10_000, 50, 'wireguard-go UAPI socket');
});

test('wg setconf accepts toWgSetconf output and wg showconf reads back the same settings', () => {
  const text = FULL.replace('198.51.100.7', '127.0.0.7').replace('[2001:DB8::7]', '[::1]');
  const mine = mustParse(text).config;
  const r = setconf(toWgSetconf(mustParse(text).doc));
  assert.is(r.status, 0, r.stderr);
  const shown = parseConfig(ns.exec('wg', ['showconf', ifname]), 'showconf');
  if (!shown.ok) throw new Error(shown.errors.map((e) => e.message).join('\n'));
  const d = diffConfigs(mine, shown.config);
  assert.equal(d.device, {});
  assert.equal([d.peersAdded, d.peersRemoved], [[], []]);
  // Only what wg does not know differs: the wgts Name and Allow of each peer. wg showconf lists
  // the peers in wireguard-go's order (a Go map's), so they are matched by key, in the file's order.
  const changed = new Map(d.peersChanged.map((c) => [c.publicKey, c.fields]));
  assert.equal(mine.peers.map((p) => changed.get(p.publicKey)), [['name', 'allow'], ['name']]);
  const first = shown.config.peers.find((p) => p.publicKey === mine.peers[0].publicKey);
  assert.is(first?.presharedKey, key(3));
  assert.equal(first?.endpoint, { host: '127.0.0.7', port: 51820 });
});

const I = '[Interface]\n';
const P = `[Peer]\nPublicKey = ${key(2)}\n`;

test('what wg rejects, we reject', () => {
  const cases: Record<string, string> = {
    'bad base64 key': `${I}PrivateKey = ${'*'.repeat(43)}=\n`,
    'non-canonical key (bits after the last byte)': `${I}PrivateKey = ${'A'.repeat(42)}B=\n`,
    'short key': `${I}PrivateKey = ${key(1).slice(4)}\n`,
    'keepalive over 65535': `${I}${P}PersistentKeepalive = 65536\n`,
    'prefix over 32': `${I}${P}AllowedIPs = 10.0.0.0/33\n`,
    'not an address': `${I}${P}AllowedIPs = 10.0.0.300/32\n`,
    'endpoint without port': `${I}${P}Endpoint = 127.0.0.1\n`,
    'unknown peer key': `${I}${P}Foo = 1\n`,
    'wg-quick key in a peer': `${I}${P}Address = 10.0.0.1/32\n`,
    'unknown section': `${I}[Foo]\n`,
    'key outside a section': 'ListenPort = 1\n[Interface]\n',
    'no key before =': `${I}= 1\n`,
    'line without =': `${I}${P}AllowedIPs\n`,
    'empty value': `${I}${P}AllowedIPs =\n`,
  };
  for (const [what, text] of Object.entries(cases)) {
    assert.is(parseConfig(text, 'x').ok, false, `wgts accepts: ${what}`);
    assert.is.not(setconf(text).status, 0, `wg accepts: ${what}`);
  }
});

test('what both accept: off, hex marks, case-insensitive keys, host bits in AllowedIPs', () => {
  const cases = [
    `${I}FwMark = 0x10\n${P}PersistentKeepalive = off\n`,
    `[INTERFACE]\nlistenport = 0\n[peer]\npublickey = ${key(2)}\nallowedips = 10.1.2.3/16, ::/0\n`,
  ];
  for (const text of cases) {
    assert.is(parseConfig(text, 'x').ok, true, text);
    assert.is(setconf(text).status, 0, text);
  }
});

test('where wgts is deliberately stricter than wg', () => {
  const cases: Record<string, string> = {
    'a single-valued key twice (wg: the last wins)': `${I}${P}Endpoint = 127.0.0.1:1\nEndpoint = 127.0.0.1:2\n`,
    'IPv6 endpoint without brackets (wg splits at the last colon)': `${I}${P}Endpoint = ::1:51820\n`,
    'a listen port over 65535 (wg accepts it)': `${I}ListenPort = 70000\n`,
    'a second [Interface] (wg merges them)': `${I}ListenPort = 1\n${I}`,
  };
  for (const [what, text] of Object.entries(cases)) {
    assert.is(parseConfig(text, 'x').ok, false, `wgts accepts: ${what}`);
    assert.is(setconf(text).status, 0, `wg rejects: ${what}`);
  }
});

test.after(async () => {
  // SIGTERM lets wireguard-go remove its UAPI socket (in the host-wide /var/run/wireguard).
  const gone = new Promise((r) => wggo.once('exit', r));
  wggo.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, 3_000))]);
  ns.delete();
  rmSync(socket, { force: true });
  rmSync(dir, { recursive: true, force: true });
});
test.run();
