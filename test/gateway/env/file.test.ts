// Env files (src/gateway/env/file.ts): dotenv's format read strictly. Every accepted form gives the
// value a POSIX shell would give the same text when it is valid shell (checked against the real
// `sh` for the forms both share), and every error is FILE:LINE: reason without the value in it.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_ENV_FILE_BYTES, parseEnvFile } from '../../../src/gateway/env/file.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const ok = (text: string): Map<string, string> => {
  const r = parseEnvFile(enc(text), 'app.env');
  if (!r.ok) throw new Error(`unexpected errors: ${r.errors.join('; ')}`);
  return r.vars;
};
const errors = (text: string | Uint8Array): string[] => {
  const r = parseEnvFile(typeof text === 'string' ? enc(text) : text, 'app.env');
  assert.not.ok(r.ok, 'expected errors');
  return r.ok ? [] : r.errors;
};

test('names, comments, export, spaces around =, unquoted values with inner spaces and trailing comments', () => {
  const v = ok([
    '# the app service', '', '   ', 'API_TOKEN=s3cr3t', 'export URL=http://app:3000/x?y=1', 'GREETING = hello world  # a comment',
    '\tINDENTED=yes', 'EMPTY=', 'EMPTY2= # only a comment', 'it_s=it\'s', '_UNDER=1', 'export=not the keyword',
  ].join('\n'));
  assert.equal([...v], [
    ['API_TOKEN', 's3cr3t'], ['URL', 'http://app:3000/x?y=1'], ['GREETING', 'hello world'], ['INDENTED', 'yes'],
    ['EMPTY', ''], ['EMPTY2', ''], ['it_s', "it's"], ['_UNDER', '1'], ['export', 'not the keyword'],
  ]);
});

test('quotes: single literal, double with escapes, both across lines; CRLF and a BOM', () => {
  const v = ok("\uFEFFA='a $HOME \\n \"b\"'\r\nB=\"tab\\there \\\"q\\\" \\\\ \\$HOME nl\\n\"  # c\r\nC='line1\nline2'\nD=\"x\ny\"\nE=\"\"\nF=''\nG='#not a comment'\n");
  assert.equal(v.get('A'), 'a $HOME \\n "b"');
  assert.equal(v.get('B'), 'tab\there "q" \\ $HOME nl\n');
  assert.equal(v.get('C'), 'line1\nline2');
  assert.equal(v.get('D'), 'x\ny');
  assert.equal(v.get('E'), '');
  assert.equal(v.get('F'), '');
  assert.equal(v.get('G'), '#not a comment');
});

test('the forms shared with POSIX sh mean what sh makes of them', () => {
  const text = "A=plain\nB='single $x \"q\" \\\\n'\nC=\"dq \\$x \\\" \\\\\"\nD='multi\nline'\n";
  const v = ok(text);
  const sh = spawnSync('sh', ['-c', `${text}\nprintf '%s\\0' "$A" "$B" "$C" "$D"`], { encoding: 'utf8' });
  assert.is(sh.status, 0);
  assert.equal(sh.stdout.split('\0').slice(0, 4), [v.get('A'), v.get('B'), v.get('C'), v.get('D')]);
});

test('errors at FILE:LINE, all of them, never with the value', () => {
  const secret = 'hunter2-SECRET';
  const errs = errors([
    `API_TOKEN=${secret}`, // 1: fine
    `${secret}`, // 2: no =
    `9BAD=${secret}`, // 3: bad name
    `API_TOKEN=${secret}x`, // 4: set again
    `Q="${secret}\\q"`, // 5: unknown escape
    `R='${secret}' trailing`, // 6: text after the quote
    `H=${secret}#frag`, // 7: # inside an unquoted value
    `my-var=${secret}`, // 8: bad name
    `U="${secret}`, // 9: not closed (runs to the end)
    'more',
  ].join('\n'));
  assert.equal(errs.map((e) => e.split(':').slice(0, 2).join(':')), ['app.env:2', 'app.env:3', 'app.env:4', 'app.env:5', 'app.env:6', 'app.env:7', 'app.env:8', 'app.env:9']);
  assert.match(errs[2], /API_TOKEN is set again \(first at line 1\)/);
  assert.match(errs[3], /unknown escape \\q in the value of Q/);
  assert.match(errs[5], /unquoted value of H holds #/);
  assert.match(errs[7], /double-quoted value of U is not closed/);
  for (const e of errs) assert.not.ok(e.includes('hunter2'), `no value in: ${e}`);
});

test('bytes no environment can hold, and what is not text', () => {
  assert.match(errors('A="x\0y"\n')[0], /^app\.env:1: the value of A holds a NUL byte/);
  assert.match(errors(`A=${'x'.repeat(131_071)}\n`)[0], /^app\.env:1: A=VALUE is longer than one environment entry may be/);
  assert.ok(ok(`A=${'x'.repeat(131_069)}\n`).get('A')?.length === 131_069);
  assert.equal(errors(new Uint8Array([0x41, 0x3d, 0xff, 0xfe])), ['app.env: not UTF-8 text']);
  assert.match(errors(new Uint8Array(MAX_ENV_FILE_BYTES + 1))[0], /^app\.env: \d+ bytes is more than an env file may hold/);
});

test.run();
