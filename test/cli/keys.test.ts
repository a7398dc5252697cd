// `wgts genkey | pubkey | genpsk` against the real `wg` binary: same outputs, same rejections.

import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hex, loadVectors, obj, repoRoot, str } from '../helpers/vectors.js';

const WG = '/usr/bin/wg';
const WGTS = join(repoRoot(), 'dist', 'src', 'cli', 'wgts.js');
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=\n$/;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: 'wg' | 'wgts', args: string[], input = ''): Run {
  const [file, argv] = cmd === 'wg' ? [WG, args] : [process.execPath, [WGTS, ...args]];
  // argv0 'wg': wg prints its messages prefixed with argv[0]
  const r = spawnSync(file, argv, { input, encoding: 'utf8', timeout: 20_000, ...(cmd === 'wg' ? { argv0: 'wg' } : {}) });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Run, what: string): string {
  assert.is(r.stderr, '', `${what}: stderr`);
  assert.is(r.status, 0, `${what}: exit status`);
  return r.stdout;
}

test('prerequisites: wg and the compiled CLI exist', () => {
  assert.ok(existsSync(WG), `${WG} missing: apt-get install -y wireguard-tools`);
  assert.ok(existsSync(WGTS), `${WGTS} missing: build with npx tsc -p tsconfig.json`);
});

test('wgts genkey prints a clamped base64 key; wg and wgts derive the same public key', () => {
  for (let i = 0; i < 3; i++) {
    const priv = ok(run('wgts', ['genkey']), 'wgts genkey');
    assert.match(priv, BASE64_KEY);
    const raw = Buffer.from(priv.trim(), 'base64');
    assert.is(raw[0]! & 7, 0, 'clamped low bits');
    assert.is(raw[31]! & 0xc0, 0x40, 'clamped high bits');
    const viaWg = ok(run('wg', ['pubkey'], priv), 'wg pubkey');
    const viaWgts = ok(run('wgts', ['pubkey'], priv), 'wgts pubkey');
    assert.match(viaWgts, BASE64_KEY);
    assert.is(viaWgts, viaWg);
  }
});

/** `CMD ARGS > FILE` with FILE created (or reset) at `mode`; stderr and the file's content. */
function toFile(cmd: 'wg' | 'wgts', args: string[], file: string, mode: number): { stderr: string; content: string } {
  const fd = openSync(file, 'w', mode);
  chmodSync(file, mode);
  try {
    const [bin, argv] = cmd === 'wg' ? [WG, args] : [process.execPath, [WGTS, ...args]];
    const r = spawnSync(bin, argv, { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8', timeout: 20_000, ...(cmd === 'wg' ? { argv0: 'wg' } : {}) });
    return { stderr: r.stderr, content: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

test('genkey / genpsk to a world-accessible file: the warning wg prints, word for word; none for 0600 files or pipes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-keys-'));
  try {
    for (const sub of ['genkey', 'genpsk']) {
      const wg = toFile('wg', [sub], join(dir, `wg-${sub}`), 0o644);
      const ours = toFile('wgts', [sub], join(dir, `wgts-${sub}`), 0o644);
      assert.match(wg.stderr, /^Warning: writing to world accessible file\./, 'the reference warns');
      assert.is(ours.stderr, wg.stderr, `${sub}: same warning as wg`);
      assert.match(ours.content, BASE64_KEY, 'the key is still written');
      for (const mode of [0o600, 0o640]) {
        assert.is(toFile('wgts', [sub], join(dir, `quiet-${sub}`), mode).stderr, '', `no warning at mode ${mode.toString(8)}`);
        assert.is(toFile('wg', [sub], join(dir, `quiet-wg-${sub}`), mode).stderr, '', `wg agrees at mode ${mode.toString(8)}`);
      }
      assert.is(run('wgts', [sub]).stderr, '', 'a pipe is not a file');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wg genkey | wgts pubkey == wg genkey | wg pubkey', () => {
  for (let i = 0; i < 3; i++) {
    const priv = ok(run('wg', ['genkey']), 'wg genkey');
    assert.is(ok(run('wgts', ['pubkey'], priv), 'wgts pubkey'), ok(run('wg', ['pubkey'], priv), 'wg pubkey'));
  }
});

test('known key: RFC 7748 Alice (unclamped private key) gives her published public key', () => {
  const rfc = obj(loadVectors('x25519-vectors.json'), 'rfc7748_section_6_1');
  const priv = Buffer.from(hex(str(rfc, 'alice_private'))).toString('base64');
  const want = Buffer.from(hex(str(rfc, 'alice_public'))).toString('base64') + '\n';
  assert.is(ok(run('wg', ['pubkey'], priv + '\n'), 'wg pubkey'), want);
  assert.is(ok(run('wgts', ['pubkey'], priv + '\n'), 'wgts pubkey'), want);
});

test('accepted trailing input matches wg: none, newlines, spaces, tabs, NUL', () => {
  const priv = ok(run('wg', ['genkey']), 'wg genkey').trim();
  for (const tail of ['', '\n', '\r\n', ' \t\n\n', '\0\n', '\v\f']) {
    const want = ok(run('wg', ['pubkey'], priv + tail), `wg pubkey ${JSON.stringify(tail)}`);
    assert.is(ok(run('wgts', ['pubkey'], priv + tail), `wgts pubkey ${JSON.stringify(tail)}`), want);
  }
});

test('invalid input: same message (program name swapped) and same exit status as wg', () => {
  const priv = ok(run('wg', ['genkey']), 'wg genkey').trim();
  const cases = [
    'garbage\n',
    '',
    '\n',
    priv.slice(0, 43) + '\n', // too short
    ' ' + priv, // leading space shifts the key: trailing '=' left over
    priv + 'x', // trailing garbage
    priv.slice(0, 42) + 'B=', // non-canonical last character
    priv.slice(0, 43) + 'A', // no padding
    priv.replace(/.$/, '') + '==', // a 45th character
    'Ä'.repeat(22) + '\n',
  ];
  for (const input of cases) {
    const w = run('wg', ['pubkey'], input);
    const s = run('wgts', ['pubkey'], input);
    assert.is.not(w.status, 0, `wg accepted ${JSON.stringify(input)}`);
    assert.is(s.status, w.status, `exit status for ${JSON.stringify(input)}`);
    assert.is(s.stdout, '', `stdout for ${JSON.stringify(input)}`);
    assert.is(s.stderr, w.stderr.replace(/^wg:/, 'wgts:'), `message for ${JSON.stringify(input)}`);
  }
});

test('genpsk: 32 random bytes in base64, different every call', () => {
  const a = ok(run('wgts', ['genpsk']), 'wgts genpsk');
  const b = ok(run('wgts', ['genpsk']), 'wgts genpsk');
  assert.match(a, BASE64_KEY);
  assert.is(Buffer.from(a.trim(), 'base64').length, 32);
  assert.is.not(a, b);
  // a preshared key is any 32 bytes; wg accepts it as a key too
  assert.is(run('wg', ['pubkey'], a).status, 0);
});

test('extra arguments are rejected with a non-zero status, like wg', () => {
  for (const cmd of ['genkey', 'pubkey', 'genpsk']) {
    assert.is.not(run('wg', [cmd, 'extra']).status, 0);
    const r = run('wgts', [cmd, 'extra']);
    assert.is(r.status, 1, cmd);
    assert.is(r.stdout, '');
  }
});

test.run();
