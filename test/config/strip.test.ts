// toWgSetconf against the real `wg-quick strip` (wireguard-tools, /usr/bin/wg-quick). strip only
// parses the file (no root, no network); it needs a path ending in a valid interface name + .conf.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toWgSetconf } from '../../src/config/strip.js';
import { FULL, key, mustParse } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-strip-'));

function wgQuickStrip(text: string): string {
  const file = join(dir, 'wgts0.conf');
  writeFileSync(file, text, { mode: 0o600 });
  const r = spawnSync('wg-quick', ['strip', file], { encoding: 'utf8', timeout: 10_000 });
  assert.is(r.status, 0, `wg-quick strip failed: ${r.stderr}`);
  assert.is(r.stderr, '');
  return r.stdout;
}

/** FULL without anything wgts adds: the [Gateway] block and the Name / Allow lines. */
const FULL_WITHOUT_WGTS = FULL
  .replace(/\[Gateway\][\s\S]*?\n\n/, '')
  .split('\n').filter((l) => !/^\s*(name|allow)\s*=/i.test(l)).join('\n');

const PLAIN: Record<string, string> = {
  'a plain client config': `[Interface]\nPrivateKey = ${key(7)}\nAddress = 10.0.0.2/32\nDNS = 10.0.0.1\n\n[Peer]\nPublicKey = ${key(8)}\nEndpoint = 192.0.2.1:51820\nAllowedIPs = 0.0.0.0/0, ::/0\n`,
  'indentation, inline comments, odd case, no final newline': `  # head comment\n\t[interface]\n  privatekey=${key(7)}   # mine\n  MTU = 1380 # wg-quick only\n  ListenPort =  51000\n[PEER]\n\tPUBLICKEY = ${key(8)}  \n\tallowedips = 10.0.0.0/8,fd00::/8\n\tpersistentkeepalive = 25`,
  'every wg-quick key, blank lines everywhere': `\n\n[Interface]\n\nPrivateKey = ${key(7)}\nFwMark = 51820\nAddress = 10.9.0.1/24\nAddress = fd09::1/64\nDNS = 1.1.1.1, example.net\nMTU = 1420\nTable = 1234\nPreUp = true\nPostUp = true\nPreDown = true\nPostDown = true\nSaveConfig = true\n\n\n# trailing comment\n`,
  'the gateway config without its wgts lines': FULL_WITHOUT_WGTS,
};

test('toWgSetconf is byte-identical to wg-quick strip for files without wgts keys', () => {
  for (const [what, text] of Object.entries(PLAIN)) {
    const expected = wgQuickStrip(text);
    assert.is(toWgSetconf(mustParse(text).doc), expected, what);
  }
  // The comparison has teeth: strip does drop lines and reformat.
  assert.ok(wgQuickStrip(PLAIN['a plain client config']) !== PLAIN['a plain client config']);
});

test('with wgts extensions: the Gateway section and Name/Allow lines go too', () => {
  const out = toWgSetconf(mustParse(FULL).doc);
  assert.is(out, wgQuickStrip(FULL_WITHOUT_WGTS));
  assert.not.match(out, /^\[gateway\]|^(name|allow|network|host)\s*=/im);
  assert.match(out, /^PublicKey = /m);
  // What the real wg-quick would hand to `wg setconf` for the full file still holds the wgts lines
  // (wg would reject them), which is why wgts strips them itself.
  assert.match(wgQuickStrip(FULL), /^\[Gateway\]$/m);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
