// Editing the typed config and carrying the edit into the file's lines (config/sync.ts): only the
// keys that changed are rewritten, comments and order stay; peers are matched by key, then by name;
// the new peer keys (Disabled, Expires, Issued) and the gateway's Name parse strictly, with FILE:LINE.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIssued, issuedChanges, parseIssued } from '../../src/config/issued.js';
import type { WgtsConfig } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/parse.js';
import { syncDocument } from '../../src/config/sync.js';
import { formatTimestamp, parseTimestamp } from '../../src/config/time.js';
import { formatDocument } from '../../src/config/write.js';

const K = (n: number): string => Buffer.alloc(32, n).toString('base64');
const ISSUED = `2026-01-05T10:00:00Z address=10.123.0.2/32 dns=10.123.0.1,shop key=${K(1)} endpoint=vpn.example.com:51820 allowed=10.124.0.0/24,10.123.0.1/32`;
const FILE = `# gateway of shop\n[Interface]\nPrivateKey = ${K(1)}   # keep me\nAddress = 10.123.0.1/24\n\n[Gateway]\nName = shop\nNetwork = 10.124.0.0/24\nEndpoint = vpn.example.com:51820\n\n# alice's laptop\n[Peer]\nName = alice\nPublicKey = ${K(2)}\nAllowedIPs = 10.123.0.2/32\nexpires = 2026-12-31\nIssued = ${ISSUED}\n\n[Peer]\nName = bob\nPublicKey = ${K(3)}\nAllowedIPs = 10.123.0.3/32\nDisabled = true\n`;

function parse(text: string): { config: WgtsConfig; doc: ReturnType<typeof parseConfig> } {
  const r = parseConfig(text, 'gw.conf');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return { config: r.config, doc: r };
}

/** The text after `edit` of a copy of the typed config. */
function edited(text: string, edit: (c: WgtsConfig) => void): string {
  const r = parseConfig(text, 'gw.conf');
  if (!r.ok) throw new Error('fixture');
  const next = structuredClone(r.config);
  edit(next);
  return formatDocument(syncDocument(r.doc, r.config, next));
}

test('times: dates, UTC times and offsets to one canonical spelling; impossible dates refused', () => {
  assert.equal(parseTimestamp('2026-12-31'), { ok: true, value: Date.UTC(2026, 11, 31) });
  assert.equal(parseTimestamp('2026-12-31T18:00Z'), { ok: true, value: Date.UTC(2026, 11, 31, 18) });
  assert.equal(parseTimestamp('2026-12-31T20:00:00+02:00'), { ok: true, value: Date.UTC(2026, 11, 31, 18) });
  for (const bad of ['2026-02-30', '2026-12-31T24:00:00Z', '2026-12-31T18:00:00', '31.12.2026', '2026-1-1', 'tomorrow']) {
    assert.not.ok(parseTimestamp(bad).ok, bad);
  }
  assert.is(formatTimestamp(Date.UTC(2026, 11, 31, 18, 0, 5, 900)), '2026-12-31T18:00:05Z');
});

test('Issued records: parse, format back, and name what changed', () => {
  const r = parseIssued(ISSUED);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(formatIssued(r.value), ISSUED);
  assert.equal(issuedChanges(r.value, { ...r.value, endpoint: 'vpn2.example.com:51820', allowed: ['10.124.0.0/24'] }), ['endpoint', 'allowed']);
  const errors = ['2026-01-05T10:00:00Z endpoint=a:1', `${ISSUED} endpoint=b:2`, `${ISSUED} colour=red`, 'address=10.0.0.1/32'];
  for (const e of errors) assert.not.ok(parseIssued(e).ok, e);
});

test('the new keys parse; bad values are FILE:LINE errors', () => {
  const { config } = parse(FILE);
  assert.is(config.gateway?.name, 'shop');
  assert.is(config.peers[0].expires, Date.UTC(2026, 11, 31));
  assert.is(config.peers[0].issued?.endpoint, 'vpn.example.com:51820');
  assert.is(config.peers[1].disabled, true);
  const bad = (text: string, line: number, why: RegExp): void => {
    const r = parseConfig(text, 'gw.conf');
    assert.not.ok(r.ok);
    if (!r.ok) assert.match(r.errors.map((e) => e.message).join('\n'), new RegExp(`^gw\\.conf:${line}: ${why.source}`));
  };
  bad(FILE.replace('expires = 2026-12-31', 'Expires = next week'), 16, /bad Expires: 'next week' is not a date/);
  bad(FILE.replace('Disabled = true', 'Disabled = yes'), 23, /bad Disabled: 'yes' is neither true nor false/);
  bad(FILE.replace(`Issued = ${ISSUED}`, 'Issued = 2026-01-05T10:00:00Z endpoint=x:1'), 17, /bad Issued: missing address=/);
  bad(FILE.replace('Name = shop', 'Name = Shop_1'), 7, /bad Name: 'Shop_1' is not a project name/);
});

test('syncDocument: only changed keys are rewritten; comments, spelling and order stay', () => {
  const now = edited(FILE, (c) => {
    const g = c.gateway as NonNullable<WgtsConfig['gateway']>;
    g.endpoint = { host: 'vpn2.example.com', port: 51820 };
    g.hosts.push({ name: 'app', address: '10.124.0.10' });
    c.peers[0].disabled = true;
    delete c.peers[1].disabled;
  });
  assert.is(now, FILE
    .replace('Endpoint = vpn.example.com:51820\n\n#', 'Endpoint = vpn2.example.com:51820\nHost = app=10.124.0.10\n\n#')
    .replace('AllowedIPs = 10.123.0.3/32\nDisabled = true\n', 'AllowedIPs = 10.123.0.3/32\n')
    .replace(`Issued = ${ISSUED}\n`, `Issued = ${ISSUED}\nDisabled = true\n`));
  assert.ok(now.includes('PrivateKey = ' + K(1) + '   # keep me'), 'an untouched line keeps its comment');
  assert.ok(now.includes('expires = 2026-12-31'), 'an untouched key keeps its spelling');
  assert.is(edited(FILE, () => undefined), FILE, 'no change, no rewrite');
});

test('syncDocument: a re-keyed peer keeps its place and comment; removed and added peers', () => {
  const rekeyed = edited(FILE, (c) => { c.peers[0].publicKey = K(9); });
  assert.is(rekeyed, FILE.replace(`PublicKey = ${K(2)}`, `PublicKey = ${K(9)}`));
  const moved = edited(FILE, (c) => {
    c.peers = [c.peers[1], { name: 'carol', publicKey: K(4), allowedIPs: [{ family: 4, address: '10.123.0.4', prefix: 32 }], allow: [], expires: Date.UTC(2027, 0, 1) }];
  });
  assert.not.match(moved, /alice/, 'alice and her comment are gone');
  assert.match(moved, /\[Peer\]\nName = carol\nPublicKey = .*\nAllowedIPs = 10\.123\.0\.4\/32\nExpires = 2027-01-01T00:00:00Z\n$/);
  assert.ok(parseConfig(moved, 'gw.conf').ok);
});

test.run();
