// Both X25519 implementations of the addon pass every X25519 vector: the default (OpenSSL's own
// ossl_x25519 where the Node binary exports it) and the public EVP_PKEY API that WGTS_X25519=evp
// forces. The vector test runs in a child process under each setting (the choice is made once
// per process, when the addon loads).

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const here = dirname(fileURLToPath(import.meta.url));
const index = join(here, '..', '..', 'src', 'crypto', 'native.js');

for (const [setting, expect] of [['', /^addon, X25519 via (ossl_x25519|EVP_PKEY)$/], ['evp', /^addon, X25519 via EVP_PKEY$/]] as const) {
  test(`x25519.test.js passes with WGTS_X25519=${setting || '(unset)'}`, () => {
    const env = { ...process.env, WGTS_X25519: setting };
    const probe = `import('${index}').then((m) => process.stdout.write(m.nativeHandshake.detail))`;
    const which = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { env, encoding: 'utf8', timeout: 30_000 });
    assert.match(which.stdout, expect, 'the implementation in use');
    const r = spawnSync(process.execPath, [join(here, 'x25519.test.js')], { env, encoding: 'utf8', timeout: 120_000 });
    const out = (r.stdout ?? '') + (r.stderr ?? '');
    assert.is(r.status, 0, `x25519.test.js under WGTS_X25519=${setting} failed:\n${out.slice(-3000)}`);
    const counts = /Total:\s+(\d+)\s+Passed:\s+(\d+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
    assert.ok(counts !== null && Number(counts[1]) > 0 && counts[1] === counts[2], `x25519.test.js: ${counts?.[2]} of ${counts?.[1]} passed`);
  });
}

test.run();
