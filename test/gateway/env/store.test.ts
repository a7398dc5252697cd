// The gateway's project variables (src/gateway/env/store.ts): env files served as SERVICE_VAR, the
// gateway's own environment by prefix, changes noticed (edit in place, rename over, chmod, delete)
// at most once per interval on a fake clock and always after invalidate(), a broken file serving
// nothing while the others go on, permission warnings, clashes, and no value in any log line.
import { chmodSync, chownSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EnvSource } from '../../../src/config/model.js';
import { EnvStore, permissionWarnings } from '../../../src/gateway/env/store.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-envstore-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'sEcReT-VALUE-7f3a';

function harness(sources: EnvSource[], environment: NodeJS.ProcessEnv = {}): { store: EnvStore; lines: string[]; tick: (ms: number) => void } {
  const lines: string[] = [];
  let now = 0;
  const store = new EnvStore({ info: (m) => lines.push(`info ${m}`), error: (m) => lines.push(`error ${m}`) }, { environment, now: () => now, recheckMs: 1000, uid: 0 });
  store.configure(sources, join(dir, 'gw0.conf'));
  return { store, lines, tick: (ms) => { now += ms; } };
}

const write = (name: string, text: string, mode = 0o600): string => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode });
  chmodSync(p, mode);
  return p;
};

test('files as SERVICE_VAR (relative paths from the config directory), the environment by prefix, in Source order', async () => {
  write('app.env', `API_TOKEN=${SECRET}\nURL=http://app:3000\n`);
  const db = write('db.env', 'PASSWORD=pw\n');
  const { store, lines } = harness([
    { kind: 'file', service: 'app', path: 'app.env' },
    { kind: 'file', service: 'db', path: db },
    { kind: 'environment', prefix: 'ci_' },
  ], { ci_TOKEN: 'ci-token', ci_: 'bare', PATH: '/bin', CI_UPPER: 'no', ci_LD: 'fine' });
  const snap = await store.snapshot();
  assert.equal([...snap.vars], [
    ['app_API_TOKEN', SECRET], ['app_URL', 'http://app:3000'], ['db_PASSWORD', 'pw'], ['ci_', 'bare'], ['ci_LD', 'fine'], ['ci_TOKEN', 'ci-token'],
  ]);
  assert.equal(snap.unavailable, []);
  assert.ok(lines.includes('info env:ci_: 3 variable(s) from the gateway\'s environment'));
  assert.ok(lines.includes(`info app: 2 variable(s) from ${join(dir, 'app.env')}`));
  for (const l of lines) assert.not.ok(l.includes(SECRET), l);
});

test('changes: read again after the interval (edit, rename over, delete), at once after invalidate(); errors serve nothing', async () => {
  const path = write('svc.env', 'A=1\n');
  const { store, lines, tick } = harness([{ kind: 'file', service: 'svc', path }, { kind: 'environment', prefix: 'x_' }], { x_Y: 'y' });
  assert.is((await store.snapshot()).vars.get('svc_A'), '1');
  write('svc.env', 'A=2\n');
  tick(500);
  assert.is((await store.snapshot()).vars.get('svc_A'), '1', 'not looked at again within the interval');
  tick(500);
  assert.is((await store.snapshot()).vars.get('svc_A'), '2', 'an in-place edit');
  writeFileSync(`${path}.new`, 'A=3\nB=4\n', { mode: 0o600 });
  renameSync(`${path}.new`, path);
  store.invalidate();
  assert.equal([...(await store.snapshot()).vars], [['svc_A', '3'], ['svc_B', '4'], ['x_Y', 'y']], 'a rename, seen at once after invalidate()');
  write('svc.env', `A=${SECRET}\nB="${SECRET}\n`);
  tick(1000);
  const broken = await store.snapshot();
  assert.equal([...broken.vars], [['x_Y', 'y']], 'a file with errors serves nothing; the others go on');
  assert.equal(broken.unavailable, ['svc']);
  assert.ok(lines.some((l) => l.startsWith(`error ${path}:2: the double-quoted value of B is not closed`)), lines.join('\n'));
  assert.ok(lines.includes(`error svc: ${path} has errors: serving none of its variables until it is fixed`));
  const logged = lines.length;
  tick(1000);
  await store.snapshot();
  assert.is(lines.length, logged, 'an unchanged broken file is not reported again');
  unlinkSync(path);
  tick(1000);
  assert.equal((await store.snapshot()).unavailable, ['svc']);
  assert.match(lines[lines.length - 1] ?? '', /^error svc: cannot read .*svc\.env: ENOENT.*; serving none of its variables$/);
  write('svc.env', 'A=5\n');
  tick(1000);
  assert.is((await store.snapshot()).vars.get('svc_A'), '5', 'back once fixed');
  for (const l of lines) assert.not.ok(l.includes(SECRET), l);
});

test('a reload (configure) while a request is reading: the request answers from the new sources, fully read', async () => {
  const one = write('one.env', 'A=1\n');
  const two = write('two.env', 'B=2\n');
  const { store } = harness([{ kind: 'file', service: 'one', path: one }]);
  const pending = store.snapshot();
  store.configure([{ kind: 'file', service: 'one', path: one }, { kind: 'file', service: 'two', path: two }], join(dir, 'gw0.conf'));
  const snap = await pending;
  assert.equal([...snap.vars], [['one_A', '1'], ['two_B', '2']]);
  assert.equal(snap.unavailable, []);
});

test('permissions: world-readable, group- or world-writable, another owner; a chmod is noticed', async () => {
  const path = write('perm.env', 'A=1\n', 0o644);
  const { store, lines, tick } = harness([{ kind: 'file', service: 'p', path }]);
  await store.snapshot();
  assert.ok(lines.some((l) => l === `error warning: ${path} is readable by every user (mode 0644) and holds the secrets laptops receive: run chmod o-r ${path} (600, or 640 for a group)`), lines.join('\n'));
  chmodSync(path, 0o662);
  tick(1000);
  await store.snapshot();
  assert.ok(lines.some((l) => l.includes(`${path} can be changed by its group and every user (mode 0662)`)), lines.join('\n'));
  chmodSync(path, 0o600);
  if (process.getuid?.() === 0) {
    chownSync(path, 4242, 4242);
    tick(1000);
    await store.snapshot();
    assert.ok(lines.some((l) => l.includes(`${path} belongs to uid 4242`)), lines.join('\n'));
  }
  assert.equal(permissionWarnings('/x', { mode: 0o100600, uid: 0 }, 0), []);
  assert.equal(permissionWarnings('/x', { mode: 0o100640, uid: 1000 }, 1000), [], 'the gateway\'s own user');
});

test('clashes: the first Source wins; reserved names and a service whose prefix makes one are never served', async () => {
  const a = write('a.env', 'TOKEN=from-file\nPRELOAD=x\n');
  const ld = write('ld.env', 'PRELOAD=/tmp/evil.so\nOK=1\n');
  const { store, lines } = harness([
    { kind: 'file', service: 'app', path: a },
    { kind: 'environment', prefix: 'app_' },
    { kind: 'file', service: 'LD', path: ld },
    { kind: 'environment', prefix: 'BASH' },
  ], { app_TOKEN: 'from-env', app_OTHER: 'o', BASH_ENV: '/tmp/evil', BASHX: 'fine' });
  const snap = await store.snapshot();
  assert.equal([...snap.vars], [['app_TOKEN', 'from-file'], ['app_PRELOAD', 'x'], ['app_OTHER', 'o'], ['BASHX', 'fine']], 'LD_* is reserved, from any source');
  assert.ok(lines.includes('error app_TOKEN is given by app and by env:app_: serving the one of app (the first Source line)'), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith(`error LD: PRELOAD of ${ld} not served: LD_PRELOAD changes how shells`)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('error env:BASH: BASH_ENV not served')), lines.join('\n'));
});

test.run();
