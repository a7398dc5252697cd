// The variables service (src/gateway/env/service.ts) over loopback, with the data path's verdicts
// (who owns a source address, whether the connection came through the tunnel) stood in for by a
// table: grants exact, callers who are no peer or did not come through the tunnel get nothing,
// sources outside the client prefixes are closed unanswered, requests a web page could make are
// refused, connections per source are bounded, every answer is logged and counted, no value is
// ever logged. The real data path is tested end to end in tunnel.test.ts.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PeerConfig } from '../../../src/config/model.js';
import { ENV_MAX_CONNECTIONS_PER_SOURCE, ENV_PATH, EnvService, hostNamesAddress, type CallerCheck } from '../../../src/gateway/env/service.js';
import type { EnvSnapshot } from '../../../src/gateway/env/store.js';

const SECRET = 'tok-5d1e-SECRET';
const snapshot: EnvSnapshot = { vars: new Map([['app_API_TOKEN', SECRET], ['app_URL', 'http://app'], ['db_PASSWORD', 'pw-SECRET']]), unavailable: ['cache'] };
const peer = (name: string, key: string, env?: string[]): PeerConfig => ({ name, publicKey: key, allowedIPs: [], allow: [], ...(env ? { env } : {}) });
const KEYS = { alice: 'A'.repeat(43) + '=', bob: 'B'.repeat(43) + '=', dave: 'D'.repeat(43) + '=' };

/** Source address -> what the data path would say about it. */
const verdicts = new Map<string, CallerCheck>([
  ['127.0.0.2', { ok: true, publicKey: KEYS.alice }],
  ['127.0.0.3', { ok: true, publicKey: KEYS.bob }],
  ['127.0.0.4', { ok: false, reason: 'not-through-tunnel' }],
  ['127.0.0.5', { ok: false, reason: 'not-a-peer' }],
  ['127.0.0.6', { ok: true, publicKey: KEYS.dave }], // on the device, not in the file
]);

const lines: string[] = [];
const svc = new EnvService({
  store: { snapshot: () => Promise.resolve(snapshot) },
  locate: (remote) => verdicts.get(remote) ?? { ok: false, reason: 'not-a-peer' },
  clients: ['127.0.0.0/29'],
  log: { info: (m) => lines.push(m), error: (m) => lines.push(`error ${m}`), verbose: (m) => lines.push(`verbose ${m}`) },
});
svc.setPeers([peer('alice', KEYS.alice, ['app_*']), peer('bob', KEYS.bob)]);
let port = 0;

interface Got { status: number; body: string }

function get(from: string, opts: { host?: string; path?: string; method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Got | null> {
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1', port, localAddress: from, path: opts.path ?? ENV_PATH, method: opts.method ?? 'GET', agent: false,
      headers: { Host: opts.host ?? `127.0.0.1:${port}`, ...opts.headers },
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve(null));
    req.setTimeout(3000, () => { req.destroy(); resolve(null); });
    req.end(opts.body);
  });
}

test('setup', async () => {
  port = await svc.listen(['127.0.0.1'], 0);
  assert.ok(port > 0);
});

test('a peer gets exactly what its grants match, with its grants and the unavailable sources', async () => {
  const r = await get('127.0.0.2');
  assert.is(r?.status, 200);
  assert.equal(JSON.parse(r?.body ?? ''), { peer: 'alice', grants: ['app_*'], variables: { app_API_TOKEN: SECRET, app_URL: 'http://app' }, unavailable: ['cache'] });
  assert.ok(lines.includes('peer alice read 2 variables'), lines.join('\n'));
  assert.equal(svc.counters.byPeer.get(KEYS.alice), { reads: 1, variables: 2 });
});

test('a peer without grants gets nothing (and is told so); a peer out of the file, not a peer, not through the tunnel: refused', async () => {
  const bob = await get('127.0.0.3');
  assert.equal(JSON.parse(bob?.body ?? ''), { peer: 'bob', grants: [], variables: {}, unavailable: [] });
  assert.ok(lines.includes('peer bob read 0 variables'));
  for (const [from, reason] of [['127.0.0.4', 'not through the tunnel'], ['127.0.0.5', 'not a peer of this gateway'], ['127.0.0.6', 'not a peer of this gateway']]) {
    const r = await get(from as string);
    assert.is(r?.status, 403, from);
    assert.equal(JSON.parse(r?.body ?? ''), { error: reason });
  }
  assert.is(svc.counters.refused['not-through-tunnel'], 1);
  assert.is(svc.counters.refused['not-a-peer'], 2);
  assert.ok(lines.some((l) => l.includes('refused a request from 127.0.0.6: its peer DDDD') && l.includes('is not in the config file')), lines.join('\n'));
  // A peer removed from the file (setPeers of the reloaded file) gets nothing from then on.
  svc.setPeers([peer('bob', KEYS.bob)]);
  assert.is((await get('127.0.0.2'))?.status, 403);
  svc.setPeers([peer('alice', KEYS.alice, ['app_*']), peer('bob', KEYS.bob)]);
});

test('a source outside the client prefixes is closed unanswered', async () => {
  const before = svc.counters.refused['source-not-allowed'];
  assert.is(await get('127.0.0.9'), null);
  assert.is(svc.counters.refused['source-not-allowed'], before + 1);
  assert.ok(lines.includes('verbose variables: connection from 127.0.0.9 (outside the tunnel subnets) closed unanswered'));
});

test('what a web page or a confused client would send: names in Host, Origin, other methods and paths, bodies', async () => {
  const cases: [Parameters<typeof get>[1], number][] = [
    [{ host: 'evil.example' }, 421], [{ host: `localhost:${port}` }, 421], [{ headers: { Origin: 'http://evil.example' } }, 403],
    [{ method: 'POST' }, 405], [{ path: '/' }, 404], [{ path: `${ENV_PATH}/x` }, 404], [{ method: 'PUT', body: 'x' }, 413],
  ];
  for (const [opts, status] of cases) assert.is((await get('127.0.0.2', opts))?.status, status, JSON.stringify(opts));
  assert.is((await get('127.0.0.2', { host: '127.0.0.1' }))?.status, 200, 'Host without a port');
  assert.is(svc.counters.refused['bad-request'], cases.length);
  assert.ok(hostNamesAddress('[fd00::1]:5380', 'fd00:0::1'));
  assert.ok(hostNamesAddress('10.123.0.1', '::ffff:10.123.0.1'));
  assert.not.ok(hostNamesAddress('10.123.0.1.nip.io', '10.123.0.1'));
  assert.not.ok(hostNamesAddress(undefined, '10.123.0.1'));
});

test(`at most ${ENV_MAX_CONNECTIONS_PER_SOURCE} connections per source address; others are not held up`, async () => {
  const before = svc.counters.refused['connection-limit'];
  const held: Socket[] = [];
  for (let i = 0; i < ENV_MAX_CONNECTIONS_PER_SOURCE + 1; i++) {
    held.push(await new Promise<Socket>((resolve) => { const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' }, () => resolve(s)); }));
  }
  const closed = await new Promise<boolean>((resolve) => {
    const last = held[held.length - 1] as Socket;
    last.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 2000);
  });
  assert.ok(closed, 'the connection over the limit is closed');
  assert.is(svc.counters.refused['connection-limit'], before + 1);
  assert.is((await get('127.0.0.2'))?.status, 200, 'another source is served meanwhile');
  for (const s of held) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.is((await get('127.0.0.3'))?.status, 200, 'served again once its connections closed');
});

test('no value in any log line; close', async () => {
  for (const l of lines) {
    assert.not.ok(l.includes('SECRET'), l);
  }
  await svc.close();
  assert.is(await get('127.0.0.2'), null);
});

test.run();
