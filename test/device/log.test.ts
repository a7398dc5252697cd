// The log formats (src/device/log.ts): wireguard-go's text lines unchanged (a peer line is
// `peer(abcd…wxyz) - message`), and JSON lines with their fields in a fixed order, the peer named
// through the lookup or by the caller, its key only in the short form; LOG_LEVEL gates both.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, jsonLogLine, LOG_FORMAT_ENV, logFormatFromEnv, LogLevel, parseLogFormat, peerLabel, shortKey } from '../../src/device/log.js';

const KEY = 'E2BQCujzbmiDhCnqzhnXLkrb6MSUu2IoEaK528eMZRI=';

function capture(level: LogLevel, format: 'text' | 'json', names?: (k: string) => string | undefined): { out: string[]; err: string[]; log: ReturnType<typeof createLogger> } {
  const out: string[] = [];
  const err: string[] = [];
  const log = createLogger('wg0', level, (l) => out.push(l), (l) => err.push(l), names ? { format, names } : { format });
  return { out, err, log };
}

test('text: wireguard-go lines; a peer context becomes the peer(…) label', () => {
  const { out, err, log } = capture(LogLevel.Verbose, 'text');
  log.verbose('Sending handshake initiation', { event: 'send', peer: KEY });
  log.error('UAPI: operation failed: x');
  assert.match(out[0] ?? '', /^DEBUG: \(wg0\) \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d peer\(E2BQ…MZRI\) - Sending handshake initiation\n$/);
  assert.match(err[0] ?? '', /^ERROR: \(wg0\) \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d UAPI: operation failed: x\n$/);
  assert.is(peerLabel(KEY), 'peer(E2BQ…MZRI)');
  assert.is(shortKey(KEY), 'E2BQ…MZRI');
});

test('json: fields in order, name from the lookup or the caller, short key only, debug/error levels on stdout/stderr', () => {
  const { out, err, log } = capture(LogLevel.Verbose, 'json', (k) => (k === KEY ? 'alice' : undefined));
  log.verbose('Sending handshake response', { event: 'send', peer: KEY });
  log.verbose('Interface wg0 is up');
  log.error('removed', { event: 'peer-removed', peer: KEY, name: 'bob' });
  assert.is(out.length, 2);
  assert.is(err.length, 1);
  const a = JSON.parse(out[0] ?? '') as Record<string, string>;
  assert.equal(Object.keys(a), ['time', 'level', 'interface', 'peer', 'key', 'event', 'message']);
  assert.equal({ ...a, time: 'T' }, { time: 'T', level: 'debug', interface: 'wg0', peer: 'alice', key: 'E2BQ…MZRI', event: 'send', message: 'Sending handshake response' });
  assert.ok(!Number.isNaN(Date.parse(a.time ?? '')));
  assert.equal(Object.keys(JSON.parse(out[1] ?? '') as object), ['time', 'level', 'interface', 'message']);
  const c = JSON.parse(err[0] ?? '') as Record<string, string>;
  assert.is(c.level, 'error');
  assert.is(c.peer, 'bob', 'the caller\'s name wins over the lookup');
  assert.not.ok((out.join('') + err.join('')).includes(KEY), 'the full key is never written');
  assert.ok(out[0]?.endsWith('}\n'), 'one line each');
  const fixed = jsonLogLine('info', 'gw0', 'up: 2 peer(s)', { event: 'up' }, undefined, new Date(0));
  assert.is(fixed, '{"time":"1970-01-01T00:00:00.000Z","level":"info","interface":"gw0","event":"up","message":"up: 2 peer(s)"}\n');
  assert.is(JSON.parse(jsonLogLine('warn', 'gw0', 'line "quoted"\nand more')).message, 'line "quoted"\nand more', 'escaped');
});

test('levels gate both formats', () => {
  for (const format of ['text', 'json'] as const) {
    const quiet = capture(LogLevel.Error, format);
    quiet.log.verbose('hidden');
    quiet.log.error('shown');
    assert.is(quiet.out.length + quiet.err.length, 1, format);
    const silent = capture(LogLevel.Silent, format);
    silent.log.error('hidden');
    assert.is(silent.out.length + silent.err.length, 0, format);
  }
});

test('format names: option values and WGTS_LOG_FORMAT', () => {
  assert.is(parseLogFormat('json'), 'json');
  assert.is(parseLogFormat('JSON'), null);
  assert.is(logFormatFromEnv({}), 'text');
  assert.is(logFormatFromEnv({ [LOG_FORMAT_ENV]: 'json' }), 'json');
  assert.throws(() => logFormatFromEnv({ [LOG_FORMAT_ENV]: 'yaml' }), /WGTS_LOG_FORMAT=yaml: the log format is text or json/);
});

test.run();
