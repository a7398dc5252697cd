// The engine's data path on both AEAD paths of the native backend: the byte-exact vectors test and
// the engine test run in child processes under WGTS_AEAD=addon (dataSeal / dataOpen in place) and
// WGTS_AEAD=node (node:crypto with nonce and views), so neither path can silently go untested.

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const here = dirname(fileURLToPath(import.meta.url));

for (const aead of ['addon', 'node'] as const) {
  for (const file of ['vectors.test.js', 'engine.test.js']) {
    test(`${file} passes with WGTS_AEAD=${aead}`, () => {
      const probe = `import('${join(here, '..', '..', 'src', 'crypto', 'index.js')}').then((m) => process.stdout.write(typeof m.backends.native.dataSeal))`;
      const which = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { env: { ...process.env, WGTS_AEAD: aead }, encoding: 'utf8', timeout: 30_000 });
      assert.is(which.stdout, aead === 'addon' ? 'function' : 'undefined', `the native backend's fast path under WGTS_AEAD=${aead}`);
      const r = spawnSync(process.execPath, ['--enable-source-maps', join(here, file)], {
        env: { ...process.env, WGTS_AEAD: aead },
        encoding: 'utf8',
        timeout: 120_000,
      });
      const out = (r.stdout ?? '') + (r.stderr ?? '');
      assert.is(r.status, 0, `${file} under WGTS_AEAD=${aead} failed:\n${out.slice(-3000)}`);
      const counts = /Total:\s+(\d+)\s+Passed:\s+(\d+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
      assert.ok(counts !== null, `no uvu summary from ${file}`);
      assert.ok(Number(counts[1]) > 0 && counts[1] === counts[2], `${file}: ${counts[2]} of ${counts[1]} passed`);
    });
  }
}

test.run();
