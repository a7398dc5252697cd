// The endpoints file a failover pair shares (src/gateway/ha/endpoints.ts): the format of
// `wg show IF endpoints`, errors as FILE:LINE, and the export `wgts up --endpoints-file` runs:
// merged, atomic, 0600, written only when what the interface knows changed, never emptied by a
// standby that knows nothing.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EndpointsExport, formatEndpoints, parseEndpoints, readEndpoints } from '../../../src/gateway/ha/endpoints.js';

const K1 = 'z9Z5FA6dkHjOcBADhyM2XOAfQQ6bFgCF1aWPmfvbfyM=';
const K2 = 'DKQJ7ZzZ0RFuLoJ/aOYcnbAQSioeblRRE9DVC3YqrAo=';
const K3 = 'tpVdDXk5JTGXyfRlWQxRs+J336ja+9Ze/MA/ix+3HiA=';
const dir = mkdtempSync(join(tmpdir(), 'wgts-ha-ep-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('parse: wg show IF endpoints output, (none) skipped, comments and blank lines, IPv6', () => {
  const m = parseEndpoints(`${K1}\t10.200.0.10:43845\n${K2}\t(none)\n\n# shared by the pair\n${K3}   [fd00::10]:51820\n`, 'f');
  assert.equal([...m], [[K1, '10.200.0.10:43845'], [K3, '[fd00::10]:51820']]);
  assert.is(formatEndpoints(m), `${K3}\t[fd00::10]:51820\n${K1}\t10.200.0.10:43845\n`, 'sorted by key, tab separated');
  assert.equal([...parseEndpoints(formatEndpoints(m), 'f')], [...m].sort(([a], [b]) => (a < b ? -1 : 1)));
});

test('parse: bad lines are FILE:LINE errors that never echo a whole key', () => {
  assert.throws(() => parseEndpoints(`${K1}\n`, 'ep'), /^ep:1: expected PUBLIC_KEY HOST:PORT/);
  assert.throws(() => parseEndpoints(`${K1} 10.0.0.1:1 extra\n`, 'ep'), /^ep:1: expected/);
  assert.throws(() => parseEndpoints(`# x\nnot-a-key 10.0.0.1:51820\n`, 'ep'), /^ep:2: not a public key: not-a-key/);
  assert.throws(() => parseEndpoints(`${K1} 10.0.0.1\n`, 'ep'), /^ep:1: not an IP:PORT endpoint: 10\.0\.0\.1$/);
  assert.throws(() => parseEndpoints(`${K1} host.example:51820\n`, 'ep'), /^ep:1: not an IP:PORT endpoint/);
  assert.throws(() => parseEndpoints(`${K1} 10.0.0.1:70000\n`, 'ep'), /^ep:1: not an IP:PORT/);
});

test('readEndpoints: an absent file is empty', async () => {
  assert.is((await readEndpoints(join(dir, 'absent'))).size, 0);
});

test('export: merged into the file, 0600, only on change, never emptied, a bad file replaced once reported', async () => {
  const file = join(dir, 'endpoints');
  const errors: string[] = [];
  const a = new EndpointsExport(file, (e) => errors.push(e.message));
  assert.not.ok(await a.update(new Map()), 'nothing known: no file written');
  assert.throws(() => statSync(file));
  assert.ok(await a.update(new Map([[K1, '10.200.0.10:1000']])));
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is(readFileSync(file, 'utf8'), `${K1}\t10.200.0.10:1000\n`);
  assert.not.ok(await a.update(new Map([[K1, '10.200.0.10:1000']])), 'unchanged: not rewritten');
  // The other gateway of the pair learned another laptop: both stay.
  const b = new EndpointsExport(file, (e) => errors.push(e.message));
  assert.ok(await b.update(new Map([[K2, '10.200.0.11:2000']])));
  assert.equal([...(await readEndpoints(file))].sort(), [[K1, '10.200.0.10:1000'], [K2, '10.200.0.11:2000']].sort());
  assert.not.ok(await b.update(new Map()), 'a standby that knows nothing leaves the file');
  // A laptop roamed: its entry changes, the other stays.
  assert.ok(await a.update(new Map([[K1, '10.200.0.12:1001']])));
  assert.equal([...(await readEndpoints(file))].sort(), [[K1, '10.200.0.12:1001'], [K2, '10.200.0.11:2000']].sort());
  writeFileSync(file, 'garbage\n');
  assert.ok(await a.update(new Map([[K1, '10.200.0.13:1002']])));
  assert.is(readFileSync(file, 'utf8'), `${K1}\t10.200.0.13:1002\n`);
  assert.equal(errors, [`${file}:1: expected PUBLIC_KEY HOST:PORT (as \`wg show IF endpoints\` prints); replacing it`]);
  assert.equal(errors.length, 1);
});

test('export: a failing write is reported once and tried again with the next change', async () => {
  const errors: string[] = [];
  const e = new EndpointsExport(join(dir, 'no-such-dir', 'endpoints'), (x) => errors.push(x.message));
  assert.not.ok(await e.update(new Map([[K1, '10.200.0.10:1000']])));
  assert.not.ok(await e.update(new Map([[K1, '10.200.0.10:1000']])));
  assert.is(errors.length, 1, errors.join('\n'));
  assert.match(errors[0] ?? '', /ENOENT/);
});

test.run();
