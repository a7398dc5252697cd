// The gateway's state behind one interface (gateway/store.ts): the file store reads with the file's
// version, edits in one locked transaction (concurrent edits from several processes all land), keeps
// the file untouched when the edit function throws or produces a config that does not check, and
// creates a new state only with force over an existing one.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OnboardError } from '../../src/gateway/onboard-errors.js';
import { FileStore, textVersion } from '../../src/gateway/store.js';
import { repoRoot } from '../helpers/wg.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-store-'));
const K = (n: number): string => Buffer.alloc(32, n).toString('base64');
const BASE = `# my gateway\n[Interface]\nPrivateKey = ${K(1)}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24 # the project\n`;
let n = 0;
const fresh = (text = BASE): string => {
  const f = join(dir, `g${n++}.conf`);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
};

test('read: the typed state and the text version; a missing or broken file is a clear OnboardError', async () => {
  const f = fresh();
  const s = await new FileStore(f).read();
  assert.is(s.version, textVersion(BASE));
  assert.is(s.config.gateway?.networks[0]?.address, '10.124.0.0');
  const missing = await new FileStore(join(dir, 'none.conf')).read().catch((e: unknown) => e);
  assert.ok(missing instanceof OnboardError && missing.code === 'no-file');
  const broken = await new FileStore(fresh(`${BASE}Nonsense = 1\n`)).read().catch((e: unknown) => e);
  assert.ok(broken instanceof OnboardError && broken.code === 'config' && /:8: unknown key 'Nonsense'/.test(broken.message));
});

test('edit: one transaction; a throwing or invalid edit leaves the file as it was', async () => {
  const f = fresh();
  const store = new FileStore(f);
  const done = await store.edit((c) => {
    c.peers.push({ name: 'alice', publicKey: K(2), allowedIPs: [{ family: 4, address: '10.123.0.2', prefix: 32 }], allow: [], disabled: true });
    return { config: c, value: 42 };
  });
  assert.is(done.value, 42);
  assert.ok(done.changed);
  const text = readFileSync(f, 'utf8');
  assert.is(done.version, textVersion(text));
  assert.ok(text.startsWith(BASE), 'the lines before are kept byte for byte (comments too)');
  assert.match(text, /\[Peer\]\nName = alice\nPublicKey = .*\nAllowedIPs = 10\.123\.0\.2\/32\nDisabled = true\n$/);
  const again = await store.edit((c) => ({ config: c, value: null }));
  assert.not.ok(again.changed);
  assert.is(again.version, done.version);
  const thrown = await store.edit(() => { throw new OnboardError('no-such-peer', 'nobody'); }).catch((e: unknown) => e);
  assert.ok(thrown instanceof OnboardError && thrown.code === 'no-such-peer');
  const invalid = await store.edit((c) => { c.peers.push({ ...c.peers[0], name: 'twin' } as never); return { config: c, value: null }; }).catch((e: unknown) => e);
  assert.ok(invalid instanceof OnboardError && invalid.code === 'config' && /another peer has this PublicKey/.test(invalid.message), String(invalid));
  assert.is(readFileSync(f, 'utf8'), text, 'unchanged after both failures');
  assert.is(statSync(f).mode & 0o777, 0o600);
});

test('edit from several processes at once: every change lands (the file lock)', async () => {
  const f = fresh();
  const script = `import('${join(repoRoot, 'dist/src/gateway/store.js')}').then(async ({ FileStore }) => {
    const i = Number(process.argv[1]);
    await new FileStore(process.argv[2]).edit((c) => {
      c.peers.push({ name: 'p' + i, publicKey: Buffer.alloc(32, 10 + i).toString('base64'), allowedIPs: [{ family: 4, address: '10.123.0.' + (10 + i), prefix: 32 }], allow: [] });
      return { config: c, value: null };
    });
  })`;
  const run = promisify(execFile);
  await Promise.all(Array.from({ length: 8 }, (_, i) => run(process.execPath, ['--input-type=module', '-e', script, String(i), f])));
  const names = (await new FileStore(f).read()).config.peers.map((p) => p.name).sort();
  assert.equal(names, Array.from({ length: 8 }, (_, i) => `p${i}`));
});

test('create: a new state (0600); an existing one only with force', async () => {
  const f = join(dir, 'new.conf');
  const { config } = await new FileStore(fresh()).read();
  const v = await new FileStore(f).create(config, { force: false, header: '# hello\n' });
  assert.is(v, textVersion(readFileSync(f, 'utf8')));
  assert.ok(readFileSync(f, 'utf8').startsWith('# hello\n[Interface]\n'));
  assert.is(statSync(f).mode & 0o777, 0o600);
  const exists = await new FileStore(f).create(config, { force: false }).catch((e: unknown) => e);
  assert.ok(exists instanceof OnboardError && exists.code === 'exists');
  await new FileStore(f).create(config, { force: true });
  const nodir = await new FileStore(join(dir, 'no', 'x.conf')).create(config, { force: false }).catch((e: unknown) => e);
  assert.ok(nodir instanceof OnboardError && nodir.code === 'no-file');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
