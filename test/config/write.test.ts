import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../../src/config/errors.js';
import type { PeerConfig, WgtsConfig } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/parse.js';
import { addPeer, formatConfig, formatDocument, removePeer, setKey } from '../../src/config/write.js';
import { FULL, key, mustParse } from './helpers/fixtures.js';

const roundTrip = (text: string): string => formatDocument(mustParse(text).doc);

test('an unedited document formats back byte for byte', () => {
  const variants: Record<string, string> = {
    full: FULL,
    crlf: FULL.replace(/\n/g, '\r\n'),
    'no final newline': FULL.trimEnd(),
    'mixed endings, trailing blanks, spaces-only lines': `[Interface]\r\nListenPort = 1\n   \n\t\n[Peer]\r\nPublicKey = ${key(2)}\n\n\n`,
    'comment-only head, empty interface': '# just a comment\n[Interface]',
  };
  for (const [what, text] of Object.entries(variants)) assert.is(roundTrip(text), text, what);
});

test('the document groups comments directly above a header with that section', () => {
  const { doc } = mustParse(FULL);
  const alice = doc.sections[2];
  assert.equal(alice.leading.map((l) => l.text), ["# alice's laptop", '# (added 2024-05-01)']);
  assert.equal(doc.head.map((l) => l.text), ['# wgts gateway for the project network', '#   managed by wgts; comments are kept', '']);
  assert.equal(doc.sections.map((s) => s.kind), ['Interface', 'Gateway', 'Peer', 'Peer']);
});

/** A config without parse positions, for comparing configs built in code with parsed ones. */
function withoutSource(c: WgtsConfig): WgtsConfig {
  return { ...c, peers: c.peers.map(({ source: _source, ...p }) => p) };
}

test('formatConfig writes a file that parses back to the same config', () => {
  const { config } = mustParse(FULL);
  const text = formatConfig(config);
  assert.equal(withoutSource(mustParse(text).config), withoutSource(config));
  assert.is(text.split('\n')[0], '[Interface]');
  assert.match(text, /\n\n\[Gateway\]\nNetwork = 10\.20\.0\.0\/16, fd20::\/48, 192\.168\.50\.0\/24\n/);
  assert.match(text, /\n\[Peer\]\nName = Bob\nPublicKey = BAQE[A-Za-z0-9+/]+=\nAllowedIPs = 10\.99\.0\.3\/32\nEndpoint = \[2001:db8::7\]:4500\nPersistentKeepalive = 0\n$/);
  const minimal: WgtsConfig = mustParse('[Interface]\n').config;
  assert.is(formatConfig(minimal), '[Interface]\n');
});

const carol: PeerConfig = {
  publicKey: key(5),
  allowedIPs: [{ family: 4, address: '10.99.0.4', prefix: 32 }],
  name: 'carol',
  allow: ['10.20.0.5/32:22/tcp'],
};

test('addPeer appends after one blank line; removePeer of it restores the file exactly', () => {
  const { doc } = mustParse(FULL);
  const added = formatDocument(addPeer(doc, carol, "carol's desktop"));
  assert.is(added, `${FULL}\n# carol's desktop\n[Peer]\nName = carol\nPublicKey = ${key(5)}\nAllowedIPs = 10.99.0.4/32\nAllow = 10.20.0.5/32:22/tcp\n`);
  const reparsed = mustParse(added);
  assert.is(reparsed.config.peers[2].name, 'carol');
  assert.is(formatDocument(removePeer(reparsed.doc, 'carol')), FULL);
  assert.is(formatDocument(removePeer(reparsed.doc, key(5))), FULL);
});

test('addPeer keeps CRLF files CRLF and ends a file that had no final newline', () => {
  const crlf = `[Interface]\r\nListenPort = 1\r\n`;
  assert.is(formatDocument(addPeer(mustParse(crlf).doc, carol)),
    `${crlf}\r\n[Peer]\r\nName = carol\r\nPublicKey = ${key(5)}\r\nAllowedIPs = 10.99.0.4/32\r\nAllow = 10.20.0.5/32:22/tcp\r\n`);
  assert.is(formatDocument(addPeer(mustParse('[Interface]').doc, { publicKey: key(6), allowedIPs: [], allow: [] })),
    `[Interface]\n\n[Peer]\nPublicKey = ${key(6)}\n`);
  assert.is(formatDocument(addPeer(mustParse('[Interface]\n\n').doc, { publicKey: key(6), allowedIPs: [], allow: [] })),
    `[Interface]\n\n[Peer]\nPublicKey = ${key(6)}\n`);
});

test('removePeer takes the peer with its leading comments, by key or by name (any case)', () => {
  const { doc } = mustParse(FULL);
  const aliceStart = FULL.indexOf("# alice's laptop");
  const bobStart = FULL.indexOf('\t[peer]');
  assert.is(formatDocument(removePeer(doc, key(2))), FULL.slice(0, aliceStart) + FULL.slice(bobStart));
  assert.is(formatDocument(removePeer(doc, 'ALICE')), FULL.slice(0, aliceStart) + FULL.slice(bobStart));
  // The last peer: the blank line that separated it goes too.
  assert.is(formatDocument(removePeer(doc, 'bob')), FULL.slice(0, bobStart - 1));
  // Both peers: back to a file that ends with the gateway section's last line.
  assert.is(formatDocument(removePeer(removePeer(doc, 'bob'), 'alice')), FULL.slice(0, aliceStart - 1));
  try {
    removePeer(doc, 'zed');
    assert.unreachable('removing a missing peer must throw');
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).message, "wg0.conf: no peer with PublicKey or Name 'zed'");
    assert.is((e as ConfigError).code, 'no-such-peer');
  }
});

test('setKey replaces only the value, keeping spelling, spacing and comments', () => {
  const { doc } = mustParse(FULL);
  const swap = (edited: string, from: string, to: string): void => {
    assert.ok(FULL.includes(from), from);
    assert.is(edited, FULL.replace(from, to));
  };
  swap(formatDocument(setKey(doc, 'Interface', 'ListenPort', '51821')), 'listenport=51820\n', 'listenport=51821\n');
  swap(formatDocument(setKey(doc, 'Interface', 'privatekey', key(9))), `PrivateKey = ${key(0x40)}   # the gateway's key`, `PrivateKey = ${key(9)}   # the gateway's key`);
  swap(formatDocument(setKey(doc, { peer: 'bob' }, 'Endpoint', '[2001:db8::8]:4501')), '\tendpoint = [2001:DB8::7]:4500', '\tendpoint = [2001:db8::8]:4501');
  // A repeated key: first line replaced in place, the other lines of the key removed.
  swap(formatDocument(setKey(doc, { peer: key(2) }, 'AllowedIPs', '10.99.0.2/32')),
    'AllowedIPs = 10.99.0.2/32, fd00:99::2/128\nAllowedIPs = 10.99.5.0/24\n', 'AllowedIPs = 10.99.0.2/32\n');
  swap(formatDocument(setKey(doc, { peer: 'alice' }, 'Allow', ['10.20.0.0/16', '10.20.0.9/32:53/udp'])),
    'Allow = 10.20.0.5/32:5432/tcp\nAllow = 10.20.0.0/16/icmp, fd20::/48:443/tcp, 10.20.0.6:80-88\n', 'Allow = 10.20.0.0/16\nAllow = 10.20.0.9/32:53/udp\n');
  swap(formatDocument(setKey(doc, { peer: 'alice' }, 'PersistentKeepalive', null)), 'PersistentKeepalive = 25\n', '');
  // A new key goes after the section's last entry, before its trailing blank line.
  swap(formatDocument(setKey(doc, { peer: 'alice' }, 'PresharedKey', null)), `PresharedKey = ${key(3)}\n`, '');
  swap(formatDocument(setKey(doc, 'Gateway', 'Upstream', null)), 'Upstream = 10.20.0.2, [FD20::53]:5353\n', '');
  swap(formatDocument(setKey(doc, 'Gateway', 'masquerade', 'true')), 'Masquerade = FALSE', 'Masquerade = true');
  swap(formatDocument(setKey(doc, 'Interface', 'Table', 'auto')), 'Table = off', 'Table = auto');
  const withPsk = formatDocument(setKey(doc, { peer: 'bob' }, 'PresharedKey', key(10)));
  assert.is(withPsk, `${FULL}PresharedKey = ${key(10)}\n`);
  assert.is(mustParse(withPsk).config.peers[1].presharedKey, key(10));
});

test('setKey on a missing [Gateway] creates it after [Interface]', () => {
  const text = `[Interface]\nListenPort = 1\n\n[Peer]\nPublicKey = ${key(2)}\n`;
  const edited = formatDocument(setKey(mustParse(text).doc, 'Gateway', 'Network', ['10.20.0.0/16', 'fd20::/48']));
  assert.is(edited, `[Interface]\nListenPort = 1\n\n[Gateway]\nNetwork = 10.20.0.0/16\nNetwork = fd20::/48\n\n[Peer]\nPublicKey = ${key(2)}\n`);
  assert.equal(mustParse(edited).config.gateway?.networks.length, 2);
  const bare = formatDocument(setKey(mustParse('[Interface]').doc, 'Gateway', 'Network', '10.0.0.0/8'));
  assert.is(bare, '[Interface]\n\n[Gateway]\nNetwork = 10.0.0.0/8\n');
  assert.is(formatDocument(setKey(mustParse('[Interface]').doc, 'Gateway', 'Network', null)), '[Interface]');
  // A key added to a section whose header is the file's last line.
  assert.is(formatDocument(setKey(mustParse('[Interface]').doc, 'Interface', 'ListenPort', '7')), '[Interface]\nListenPort = 7\n');
});

test('setKey refuses what it cannot write', () => {
  const { doc } = mustParse(FULL);
  const refuses = (f: () => unknown, message: string): void => {
    try {
      f();
      assert.unreachable(message);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.is((e as ConfigError).message, message);
    }
  };
  refuses(() => setKey(doc, 'Interface', 'Name', 'x'), "wg0.conf: unknown key 'Name' in [Interface]");
  refuses(() => setKey(doc, 'Interface', 'ListenPort', ['1', '2']), 'wg0.conf: ListenPort takes one value, got 2');
  refuses(() => setKey(doc, 'Interface', 'PostUp', 'echo # oops'), 'wg0.conf: PostUp value "echo # oops" cannot be written on one line (empty, padded, or holding \'#\' or a line break)');
  refuses(() => setKey(doc, { peer: 'alice' }, 'Name', 'a\n[Interface]'), 'wg0.conf: Name value "a\\n[Interface]" cannot be written on one line (empty, padded, or holding \'#\' or a line break)');
  refuses(() => setKey(doc, { peer: 'zed' }, 'Name', 'z'), "wg0.conf: no peer with PublicKey or Name 'zed'");
  refuses(() => addPeer(doc, { ...carol, name: 'c#1' }), 'wg0.conf: Name value "c#1" cannot be written on one line (empty, padded, or holding \'#\' or a line break)');
});

test('edits that break a rule are caught by parsing the result', () => {
  const { doc } = mustParse(FULL);
  const dup = parseConfig(formatDocument(addPeer(doc, { ...carol, publicKey: key(2) })), 'wg0.conf');
  assert.equal(dup.ok ? [] : dup.errors.map((e) => e.message), ['wg0.conf:53: another peer has this PublicKey (line 35)']);
});

test.run();
