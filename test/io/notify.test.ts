// The readiness datagram (src/io/notify.ts, native/notify.cc) against a real AF_UNIX datagram
// socket bound with SO_PASSCRED, as systemd binds its notification socket: the states arrive as
// one datagram each, from this process's pid; abstract names are reached from inside a network
// namespace (they belong to one); failures are reported once and never thrown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { monotonicUsec, NOTIFY_SOCKET_ENV, ServiceNotifier, statusLine } from '../../src/io/notify.js';
import { Netns } from '../helpers/netns.js';
import { notifyReceiver } from '../helpers/notify.js';
import { repoRoot } from '../helpers/wg.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-notify-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('READY, RELOADING with MONOTONIC_USEC, STOPPING and STATUS reach a path socket from this pid, one datagram each', async () => {
  const rx = await notifyReceiver(null, join(dir, 'notify.sock'));
  try {
    const errors: string[] = [];
    const n = new ServiceNotifier(rx.address, (m) => errors.push(m));
    assert.ok(n.enabled);
    n.ready('gateway gw0 up: 2 peer(s)');
    const before = monotonicUsec();
    n.reloading();
    n.ready();
    n.status('line one\nline two');
    n.stopping('stopping: received SIGTERM');
    await rx.waitFor('STOPPING=1');
    const got = rx.received();
    assert.equal(got.map((g) => g.pid), [process.pid, process.pid, process.pid, process.pid, process.pid], 'sent by this process (NotifyAccess=main)');
    assert.equal(got[0]?.lines, ['READY=1', 'STATUS=gateway gw0 up: 2 peer(s)']);
    const reloading = got[1]?.lines ?? [];
    assert.is(reloading[0], 'RELOADING=1');
    const usec = BigInt((reloading[1] ?? '').replace('MONOTONIC_USEC=', ''));
    assert.ok(usec >= before && usec - before < 5_000_000n, `MONOTONIC_USEC is CLOCK_MONOTONIC in µs (${usec} vs ${before})`);
    assert.equal(got[2]?.lines, ['READY=1']);
    assert.equal(got[3]?.lines, ['STATUS=line one; line two'], 'a status is one line');
    assert.equal(got[4]?.lines, ['STOPPING=1', 'STATUS=stopping: received SIGTERM']);
    assert.equal(errors, []);
  } finally {
    rx.stop();
  }
});

test('an abstract @name is reached inside its network namespace, and only there', async () => {
  const ns = new Netns('notify');
  try {
    const name = `@wgts-test-notify-${process.pid}`;
    const rx = await notifyReceiver(ns, name);
    const code = `const { ServiceNotifier } = await import(${JSON.stringify(join(repoRoot, 'dist/src/io/notify.js'))});`
      + `new ServiceNotifier(${JSON.stringify(name)}, (m) => console.log(m)).ready('abstract');`;
    assert.is(ns.exec(process.execPath, ['--input-type=module', '-e', code]), '', 'no error inside the namespace');
    const got = await rx.waitFor('READY=1');
    assert.equal(got.lines, ['READY=1', 'STATUS=abstract']);
    const errors: string[] = [];
    new ServiceNotifier(name, (m) => errors.push(m)).ready();
    assert.is(errors.length, 1, 'from another network namespace the abstract name does not exist');
    assert.match(errors[0] ?? '', 'ECONNREFUSED');
    rx.stop();
  } finally {
    ns.delete();
  }
});

test('failures: reported once, never thrown; no socket means no-op; fromEnv takes the variable out of the environment', () => {
  const errors: string[] = [];
  const gone = new ServiceNotifier(join(dir, 'nobody.sock'), (m) => errors.push(m));
  gone.ready();
  gone.stopping();
  assert.is(errors.length, 1, 'once');
  assert.match(errors[0] ?? '', /cannot notify the service manager at NOTIFY_SOCKET=.*nobody\.sock \(ENOENT\); carrying on/);
  const relative: string[] = [];
  new ServiceNotifier('relative/path', (m) => relative.push(m)).ready();
  assert.match(relative[0] ?? '', 'EAFNOSUPPORT');
  const long: string[] = [];
  new ServiceNotifier(`/${'x'.repeat(200)}`, (m) => long.push(m)).ready();
  assert.match(long[0] ?? '', 'ENAMETOOLONG');

  const env: NodeJS.ProcessEnv = { [NOTIFY_SOCKET_ENV]: '@x', OTHER: '1' };
  const n = ServiceNotifier.fromEnv(undefined, env);
  assert.is(n.socket, '@x');
  assert.equal(env, { OTHER: '1' }, 'children never see NOTIFY_SOCKET');
  const none = ServiceNotifier.fromEnv(undefined, {});
  assert.not.ok(none.enabled);
  none.ready(); // no socket: nothing to do, nothing thrown

  assert.is(statusLine('x'.repeat(300)).length, 200);
});

test.run();
