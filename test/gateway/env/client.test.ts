// The laptop side (src/gateway/env/client.ts) without a tunnel: the gateway's address read from
// client configs (what peer add writes, hand-written variants), the route check's verdicts, the
// answer's checks (a gateway cannot plant BASH_ENV or LD_PRELOAD), and fetches from a real
// service on loopback: answers, refusals, silence.
import { createServer } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../../src/config/parse.js';
import { checkAnswer, EnvFetchError, fetchEnv, gatewayAddressOf, interfaceOfFile, tunnelProblem } from '../../../src/gateway/env/client.js';
import { EnvService } from '../../../src/gateway/env/service.js';

const KEY = 'A'.repeat(43) + '=';
const client = (iface: string, peers: string): ReturnType<typeof gatewayAddressOf> => {
  const r = parseConfig(`[Interface]\nPrivateKey = ${KEY}\n${iface}\n${peers}`, 'lap.conf');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('; '));
  return gatewayAddressOf(r.config, 'lap.conf');
};
const addr = (r: ReturnType<typeof gatewayAddressOf>): string => (r.ok ? r.address : `error: ${r.error}`);

test('the gateway address: the DNS server inside the AllowedIPs (IPv4 first), else the one host route, else an error', () => {
  const peer = (allowed: string): string => `[Peer]\nPublicKey = ${KEY.replace('A', 'B')}\nAllowedIPs = ${allowed}\n`;
  // What `wgts peer add` writes (dual stack).
  assert.is(addr(client('Address = 10.123.0.2/32, fd00:123::2/128\nDNS = 10.123.0.1, zerops', peer('10.124.0.0/24, 10.123.0.1/32, fd00:123::1/128'))), '10.123.0.1');
  assert.is(addr(client('DNS = fd00:123::1, 10.123.0.1', peer('10.123.0.0/24, fd00:123::/64'))), '10.123.0.1', 'IPv4 first');
  assert.is(addr(client('DNS = fd00:123::1', peer('fd00:123::/64'))), 'fd00:123::1');
  assert.is(addr(client('DNS = 1.1.1.1', peer('10.124.0.0/24, 10.123.0.1/32'))), '10.123.0.1', 'a DNS outside the tunnel does not count: the host route');
  assert.is(addr(client('', peer('10.124.0.0/24, fd00:123::1/128'))), 'fd00:123::1');
  assert.match(addr(client('', peer('10.124.0.0/24, 10.123.0.1/32, 10.123.0.9/32'))), /several host routes \(10\.123\.0\.1, 10\.123\.0\.9\); give it with --gateway/);
  assert.match(addr(client('', peer('10.124.0.0/24'))), /no DNS = server inside the AllowedIPs and no \/32 or \/128 among them \(10\.124\.0\.0\/24\)/);
  assert.is(interfaceOfFile('/home/me/zerops.conf'), 'zerops');
});

test('the route check: through the file\'s interface, or a message naming the fix', async () => {
  const routeVia = (dev: string) => (): Promise<string> => Promise.resolve(JSON.stringify([{ dst: '10.123.0.1', dev, prefsrc: '10.123.0.2' }]));
  assert.is(await tunnelProblem('10.123.0.1', 'alice', 'alice.conf', routeVia('alice')), null);
  assert.is(await tunnelProblem('10.123.0.1', 'alice', 'alice.conf', routeVia('eth0')),
    "the tunnel alice is not up: the route to the gateway's tunnel address 10.123.0.1 goes through eth0; bring it up first (wgts up alice.conf, or wg-quick up alice.conf)");
  const none = (): Promise<string> => Promise.reject(new Error('RTNETLINK answers: Network is unreachable'));
  assert.match(await tunnelProblem('10.123.0.1', 'alice', 'alice.conf', none) ?? '', /^no route to the gateway's tunnel address 10\.123\.0\.1: RTNETLINK answers: Network is unreachable; bring the tunnel up first/);
});

test('answers are checked: reserved or malformed names and values are left out, a malformed answer refused', () => {
  const got = checkAnswer({ peer: 'alice', grants: ['*'], unavailable: [], variables: { app_X: 'x', BASH_ENV: '/tmp/p', LD_PRELOAD: '/tmp/e.so', 'a-b': '1', app_N: 5, app_Z: 'z\0' } });
  assert.equal([...got.vars], [['app_X', 'x']]);
  assert.equal(got.skipped.map((s) => s.split(':')[0]), ['BASH_ENV', 'LD_PRELOAD', 'a-b', 'app_N', 'app_Z']);
  for (const bad of [null, [], { peer: 'a' }, { peer: 'a', grants: [], unavailable: [], variables: [] }, { peer: 1, grants: [], unavailable: [], variables: {} }]) {
    assert.throws(() => checkAnswer(bad), (e: unknown) => e instanceof EnvFetchError, JSON.stringify(bad));
  }
});

test('fetch from a real service: the variables; a refusal with its reason; silence within the time limit', async () => {
  const svc = new EnvService({
    store: { snapshot: () => Promise.resolve({ vars: new Map([['app_T', "it's\nmulti"]]), unavailable: [] }) },
    locate: (remote) => (remote === '127.0.0.1' ? { ok: true, publicKey: KEY } : { ok: false, reason: 'not-a-peer' }),
    clients: ['127.0.0.0/8'],
    log: { info: () => undefined, error: () => undefined, verbose: () => undefined },
  });
  svc.setPeers([{ name: 'alice', publicKey: KEY, allowedIPs: [], allow: [], env: ['app_*'] }]);
  const port = await svc.listen(['127.0.0.1'], 0);
  try {
    const got = await fetchEnv('127.0.0.1', port);
    assert.equal([...got.vars], [['app_T', "it's\nmulti"]]);
    assert.is(got.peer, 'alice');
    svc.setPeers([]);
    const refused = await fetchEnv('127.0.0.1', port).then(() => 'answered', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    assert.is(refused, 'the gateway refused: not a peer of this gateway');
  } finally {
    await svc.close();
  }
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as { port: number }).port;
  const t0 = Date.now();
  const why = await fetchEnv('127.0.0.1', silentPort, 300).then(() => 'answered', (e: unknown) => (e instanceof Error ? e.message : String(e)));
  assert.match(why, /^no answer from the gateway's variables service at 127\.0\.0\.1:\d+ within 0\.3 s/);
  assert.ok(Date.now() - t0 < 2000);
  silent.close();
  const closedPort = silentPort;
  const refusedConn = await fetchEnv('127.0.0.1', closedPort, 1000).then(() => 'answered', (e: unknown) => (e instanceof Error ? e.message : String(e)));
  assert.match(refusedConn, /^cannot reach the gateway's variables service at 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
});

test.run();
