// Backend selection: the pure decision function, the probe on this machine, and getCrypto() in a
// child process under each WGTS_CRYPTO value.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { probeNative } from '../../src/crypto/probe.js';
import { selectBackendName, type NativeProbe } from '../../src/crypto/select.js';
import { repoRoot } from '../helpers/vectors.js';

const ok = (): NativeProbe => ({ ok: true });
const broken = (): NativeProbe => ({ ok: false, reason: 'no chacha20-poly1305 cipher' });

test('auto: native when the probe passes, pure when it fails', () => {
  assert.is(selectBackendName(undefined, ok), 'native');
  assert.is(selectBackendName('', ok), 'native');
  assert.is(selectBackendName('auto', ok), 'native');
  assert.is(selectBackendName(undefined, broken), 'pure');
  assert.is(selectBackendName('auto', broken), 'pure');
});

test('explicit choice', () => {
  assert.is(selectBackendName('pure', ok), 'pure');
  assert.is(selectBackendName('native', ok), 'native');
  assert.is(selectBackendName(' pure\n', ok), 'pure');
});

test('pure does not even probe', () => {
  let probed = false;
  selectBackendName('pure', () => {
    probed = true;
    return { ok: true };
  });
  assert.is(probed, false);
});

test('native when unavailable is an error naming the reason', () => {
  assert.throws(() => selectBackendName('native', broken), /WGTS_CRYPTO=native.*no chacha20-poly1305 cipher/);
});

test('an unknown value is an error naming the variable and the accepted values', () => {
  for (const bad of ['Native', 'openssl', 'nacl', '1']) {
    assert.throws(() => selectBackendName(bad, ok), (e: unknown) => e instanceof Error && e.message.includes('WGTS_CRYPTO') && e.message.includes(`'${bad}'`) && e.message.includes("'native'"));
  }
});

test('node:crypto on this machine passes the probe', () => {
  assert.equal(probeNative(), { ok: true });
});

function childSelect(value: string | undefined): { status: number | null; stdout: string; stderr: string } {
  const index = pathToFileURL(join(repoRoot(), 'dist', 'src', 'crypto', 'index.js')).href;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WGTS_CRYPTO;
  if (value !== undefined) env.WGTS_CRYPTO = value;
  const code = `import(${JSON.stringify(index)}).then((m) => { process.stdout.write(m.getCrypto().name); }, (e) => { throw e; });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('getCrypto() honours WGTS_CRYPTO in a fresh process', () => {
  assert.equal(childSelect(undefined), { status: 0, stdout: 'native', stderr: '' });
  assert.equal(childSelect('native'), { status: 0, stdout: 'native', stderr: '' });
  assert.equal(childSelect('pure'), { status: 0, stdout: 'pure', stderr: '' });
  const bad = childSelect('chacha');
  assert.is.not(bad.status, 0);
  assert.is(bad.stdout, '');
  assert.match(bad.stderr, /WGTS_CRYPTO must be 'native', 'pure' or 'auto' \(or unset\), got 'chacha'/);
});

test.run();
