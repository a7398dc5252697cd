// Mutated valid configs against the whole path of `wgts up` before it touches anything: the
// parser, the `wgts up` checks (gateway/plan.ts) and the access-rule compiler. Seeded mutations
// (lines deleted, duplicated, swapped, cut short; bytes flipped; hostile values; headers moved;
// line endings changed; huge lines) must never throw, and every rejection must be a
// `FILE:LINE: reason` whose LINE is a line of the file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import { compileAccess } from '../../src/gateway/access.js';
import { checkUpConfig } from '../../src/gateway/plan.js';
import { prng } from '../helpers/prng.js';
import { FULL, key } from './helpers/fixtures.js';

const FILE = '/etc/wireguard/fz0.conf';

const LAPTOP = `[Interface]\nPrivateKey = ${key(0x48)}\nAddress = 10.123.0.2/32\nDNS = 10.123.0.1, zerops\n\n[Peer]\nPublicKey = ${key(9)}\nPresharedKey = ${key(10)}\nEndpoint = vpn.example.com:51820\nAllowedIPs = 10.124.0.0/24, 10.123.0.1/32\nPersistentKeepalive = 25\n`;
const GATEWAY = `[Interface]\nPrivateKey = ${key(0x50)}\nAddress = 10.123.0.1/24\nListenPort = 51820\n\n[Gateway]\nNetwork = 10.124.0.0/24\nDomain = zerops\nEndpoint = vpn.example.com:51820\nHost = app=10.124.0.10\nMetrics = 127.0.0.1:9586\n\n[Peer]\nName = alice\nPublicKey = ${key(11)}\nAllowedIPs = 10.123.0.2/32\nAllow = 10.124.0.10/32:3000/tcp\n`;

/** Values that have broken parsers before: empty, huge, signed, hex, NaN, odd addresses, control bytes. */
const NASTY = [
  '', ' ', '=', '==', '[', ']', '[]', '#', '0', '-1', '+1', '65536', '4294967296', '99999999999999999999999', '0x', '0x1g', '1e3', 'NaN', 'Infinity',
  'true', 'FALSE', 'off', 'auto', '::', ':::', '0.0.0.0/0', '::/0', '10.0.0.1/33', '10.0.0.1/-1', '10.0.0.256', '1.2.3', 'fe80::1%eth0', '[::1]:51820',
  'host:', ':80', 'a:b:c', '10.0.0.1:0', '10.0.0.1:65536', 'x'.repeat(5000), '\u0000', '\r', '\t', '\u00e9\u00e8', '\ud83d\ude00', '%i', '$(reboot)',
  key(1).slice(0, 43), `${key(1)}=`, `${key(1)}A`, 'AAAA', '10.124.0.10/32:0/tcp', '10.124.0.10/32:80-1/udp', '10.124.0.10/32/sctp', 'app=', '=10.0.0.1', 'a..b=10.0.0.1',
];
const KEYS = ['PrivateKey', 'ListenPort', 'FwMark', 'Address', 'DNS', 'MTU', 'Table', 'PreUp', 'SaveConfig', 'PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint',
  'PersistentKeepalive', 'Name', 'Allow', 'Network', 'Domain', 'Host', 'Masquerade', 'Upstream', 'ListenDns', 'Metrics', 'Bogus', 'privatekey', 'ALLOWEDIPS'];
const HEADERS = ['[Interface]', '[Peer]', '[Gateway]', '[interface]', '[Peer', 'Peer]', '[ Peer ]', '[Nope]', '[]'];

/** One to four random mutations of `text`. */
function mutate(text: string, r: () => number): string {
  let lines = text.split('\n');
  const pick = <T>(xs: readonly T[]): T => xs[r() % xs.length] as T;
  const at = (): number => r() % Math.max(1, lines.length);
  for (let n = 1 + (r() % 4); n > 0; n--) {
    switch (r() % 12) {
      case 0: lines.splice(at(), 1); break;
      case 1: { const i = at(); lines.splice(i, 0, lines[i] ?? ''); break; }
      case 2: { const i = at(), j = at(); [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? '']; break; }
      case 3: { const i = at(); const l = lines[i] ?? ''; lines[i] = l.slice(0, r() % (l.length + 1)); break; }
      case 4: { // replace a value
        const i = at(); const l = lines[i] ?? ''; const eq = l.indexOf('=');
        if (eq >= 0) lines[i] = `${l.slice(0, eq + 1)} ${pick(NASTY)}`;
        break;
      }
      case 5: lines.splice(at(), 0, `${pick(KEYS)} = ${pick(NASTY)}`); break;
      case 6: lines.splice(at(), 0, pick(HEADERS)); break;
      case 7: { // flip a byte somewhere
        const s = lines.join('\n');
        const i = r() % Math.max(1, s.length);
        lines = (s.slice(0, i) + String.fromCharCode(r() % 256) + s.slice(i + 1)).split('\n');
        break;
      }
      case 8: lines = lines.join('\n').replace(/\n/g, r() % 2 ? '\r\n' : '\r').split('\n'); break;
      case 9: lines.splice(at(), 0, pick(NASTY)); break;
      case 10: { const i = at(); lines[i] = (lines[i] ?? '').toUpperCase(); break; }
      default: lines = lines.slice(0, at()); break;
    }
  }
  return lines.join('\n');
}

const REJECTION = /^\/etc\/wireguard\/fz0\.conf:(\d+): \S/;

test('20 000 mutated configs: never a throw, every rejection FILE:LINE: reason on a line of the file', () => {
  const r = prng(20240601);
  let rejected = 0, accepted = 0, refusedByUp = 0;
  const bases = [FULL, LAPTOP, GATEWAY];
  for (let i = 0; i < 20_000; i++) {
    const text = mutate(bases[i % bases.length] as string, r);
    const lineCount = text.split('\n').length;
    const where = (msg: string): void => {
      const m = REJECTION.exec(msg);
      assert.ok(m, `not FILE:LINE: reason: ${JSON.stringify(msg.slice(0, 200))}\nfor:\n${text.slice(0, 2000)}`);
      const line = Number(m[1]);
      assert.ok(line >= 1 && line <= lineCount, `line ${line} outside the file (${lineCount} lines): ${msg.slice(0, 200)}`);
    };
    let parsed;
    try {
      parsed = parseConfig(text, FILE);
    } catch (e) {
      assert.unreachable(`parseConfig threw ${String(e)} for:\n${text.slice(0, 2000)}`);
      return;
    }
    if (!parsed.ok) {
      rejected++;
      assert.ok(parsed.errors.length > 0);
      for (const e of parsed.errors) where(e.message);
      continue;
    }
    accepted++;
    const problems = [...checkUpConfig(parsed.config, FILE, parsed.doc)];
    const compiled = compileAccess(parsed.config.peers, FILE);
    if (!compiled.ok) problems.push(...compiled.errors);
    if (problems.length > 0) refusedByUp++;
    for (const p of problems) where(p);
  }
  console.log(`  20 000 mutations: ${rejected} rejected by the parser, ${accepted} parsed (${refusedByUp} of them refused by wgts up's checks)`);
  assert.ok(rejected > 5000 && accepted > 1000, 'the mutations hit both sides');
});

test('the `wgts up` checks name the line of the key they refuse', () => {
  const text = `[Interface]\nPrivateKey = ${key(0x48)}\nPostUp = echo hi\nTable = 1234\nSaveConfig = true\n\n[Gateway]\nNetwork = 10.124.0.0/24\n`;
  const p = parseConfig(text, FILE);
  assert.ok(p.ok);
  assert.equal(checkUpConfig(p.config, FILE, p.doc), [
    `${FILE}:3: PostUp hooks are not supported by wgts up`,
    `${FILE}:5: SaveConfig = true is not supported by wgts up`,
    `${FILE}:4: Table = 1234 is not supported by wgts up (only auto or off)`,
    `${FILE}:1: a gateway needs an Address in [Interface] (its tunnel address)`,
  ]);
});

test.run();
