// Project variable names (src/gateway/env/names.ts): grants match whole names exactly, reserved
// names are refused, and `export NAME='value'` lines give back every value byte for byte through
// real shells (sh and bash), whatever it holds.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportLines, grantMatcher, nameProblem, shellQuote } from '../../../src/gateway/env/names.js';

test('grants: globs over whole names, case-sensitive; app_* does not give db_* nor APP_*', () => {
  const m = grantMatcher(['app_*', 'db_PASS?ORD']);
  assert.ok(m('app_API_TOKEN'));
  assert.ok(m('app_'));
  assert.ok(m('db_PASSWORD'));
  assert.not.ok(m('db_HOST'));
  assert.not.ok(m('db_PASSWORD2'), 'anchored at the end');
  assert.not.ok(m('xapp_TOKEN'), 'anchored at the start');
  assert.not.ok(m('APP_TOKEN'), 'case-sensitive');
  assert.not.ok(m('db_PASSORD'), '? is exactly one character');
  assert.not.ok(grantMatcher([])('anything'), 'no grants: nothing');
  assert.ok(grantMatcher(['*'])('ci_TOKEN'));
});

test('names: shell identifiers only, and not the ones that change how programs start', () => {
  assert.is(nameProblem('app_API_TOKEN'), null);
  assert.is(nameProblem('_x'), null);
  for (const bad of ['9x', 'a-b', 'a b', '', 'é']) assert.match(nameProblem(bad) ?? '', /is not a variable name/);
  for (const reserved of ['PATH', 'BASH_ENV', 'ENV', 'PROMPT_COMMAND', 'PS4', 'IFS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES', 'BASH_FUNC_x%%', 'NODE_OPTIONS', 'LC_ALL', 'HOME']) {
    assert.ok(nameProblem(reserved) !== null, reserved);
  }
  assert.match(nameProblem('x'.repeat(256)) ?? '', /longer than 255/);
});

test('export lines: every value comes back exactly through sh and bash', () => {
  const nasty = [
    '', 'plain', "it's", "''", 'a\'b"c$d`e\\f', '$(touch /tmp/wgts-never)', '`id`', 'line1\nline2\n', ' lead and trail ',
    '*', '~root', '!history', '\t\r', 'ünï©ødé ✓', '-n', '--', '%s', "x'\\''y",
  ];
  const vars = new Map(nasty.map((v, i) => [`app_V${i}`, v]));
  const script = `${exportLines(vars)}\nfor i in ${nasty.map((_, i) => i).join(' ')}; do eval "printf '%s\\\\0' \\"\\$app_V$i\\""; done\n`;
  for (const shell of ['sh', 'bash']) {
    const r = spawnSync(shell, ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.is(r.status, 0, `${shell}: ${r.stderr}`);
    assert.equal(r.stdout.split('\0').slice(0, nasty.length), nasty, shell);
  }
  assert.is(shellQuote("a'b"), "'a'\\''b'");
  assert.is(exportLines(new Map([['b_X', '1'], ['a_Y', '2']])), "export a_Y='2'\nexport b_X='1'\n", 'sorted by name');
});

test.run();
