// Prometheus metrics of a running interface: the `Metrics = HOST:PORT` key of [Gateway], the
// registry read live from a fake device (exact exposition lines, label escaping, peers coming and
// going, no key but public keys), the HTTP endpoint's limits on loopback, and end to end in
// namespaces: a gateway made by `wgts gateway init` + `wgts peer add` with Metrics set, two wgts
// laptops (one restricted by an access rule), scraped with curl inside the gateway namespace,
// the address moved and removed by live reload, and the server gone after `wgts down`.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/parse.js';
import type { WgtsConfig } from '../../src/config/model.js';
import { editConfigFile, formatConfig, formatDocument, setKey } from '../../src/config/write.js';
import { keyFromBase64, keyToBase64 } from '../../src/crypto/keys.js';
import type { DeviceCounters } from '../../src/device/device.js';
import { InterfaceMetrics, METRICS_HEADERS_TIMEOUT_MS, METRICS_MAX_CONNECTIONS, type MetricsDevice, type MetricsServer } from '../../src/gateway/metrics.js';
import type { DnsCounters } from '../../src/gateway/dns/responder.js';
import { statusPath } from '../../src/gateway/status.js';
import { DROP_BAD_MAC1, DROP_REASON_COUNT, DROP_REPLAY, DROP_STAGED_EXPIRED } from '../../src/noise/codes.js';
import type { PeerInfo } from '../../src/noise/engine.js';
import { Netns, waitFor } from '../helpers/netns.js';
import { socketPath, uniqueIfname, wgtsScript } from '../helpers/wg.js';
import { guardResolvConf } from '../helpers/stock-laptop.js';
import { startUp, type UpProc, wgtsOk } from '../helpers/up.js';
import { internetBridge } from '../helpers/topology.js';

const PRIV = 'EN4an5hpf8oZAKGvsqGpt8EX3Sq0OIdPFpEcL/cFNWI=';

function parsed(text: string): WgtsConfig {
  const r = parseConfig(text, 'gw.conf');
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.config;
}

function errorsOf(text: string): string[] {
  const r = parseConfig(text, 'gw.conf');
  return r.ok ? [] : r.errors.map((e) => e.message);
}

// ------------------------------------------------------------------ config key

test('config: Metrics = HOST:PORT in [Gateway] parses, formats back, is set by setKey; bad values at FILE:LINE', () => {
  const base = `[Interface]\nPrivateKey = ${PRIV}\nAddress = 10.123.0.1/24\n\n[Gateway]\nNetwork = 10.124.0.0/24\n`;
  assert.is(parsed(base).gateway?.metrics, undefined, 'absent by default');
  assert.equal(parsed(`${base}Metrics = 127.0.0.1:9586\n`).gateway?.metrics, { host: '127.0.0.1', port: 9586 });
  const v6 = parsed(`${base}metrics = [0:0::1]:9586\n`);
  assert.equal(v6.gateway?.metrics, { host: '::1', port: 9586 }, 'any case; canonical IPv6');
  const text = formatConfig(v6);
  assert.match(text, /^\[Gateway\]\nNetwork = 10\.124\.0\.0\/24\nMetrics = \[::1\]:9586\n/m);
  assert.equal(parsed(text), v6, 'formatConfig round trip');

  const r = parseConfig(`${base}Domain = zerops # the domain\n`, 'gw.conf');
  if (!r.ok) throw new Error('base does not parse');
  const edited = formatDocument(setKey(r.doc, 'Gateway', 'Metrics', '0.0.0.0:9586'));
  assert.is(edited, `${base}Domain = zerops # the domain\nMetrics = 0.0.0.0:9586\n`);
  assert.equal(parsed(edited).gateway?.metrics, { host: '0.0.0.0', port: 9586 });
  const again = parseConfig(edited, 'gw.conf');
  if (!again.ok) throw new Error('edited file does not parse');
  assert.is(formatDocument(setKey(again.doc, 'Gateway', 'Metrics', null)), `${base}Domain = zerops # the domain\n`, 'removed again');

  const cases: [string, string][] = [
    ['Metrics = 127.0.0.1', "gw.conf:7: bad Metrics: '127.0.0.1' has no :PORT"],
    ['Metrics = localhost:9586', "gw.conf:7: bad Metrics: 'localhost' is not an IP address"],
    ['Metrics = ::1:9586', "gw.conf:7: bad Metrics: '::1:9586': put an IPv6 address in brackets, [ADDRESS]:PORT"],
    ['Metrics = 127.0.0.1:0', "gw.conf:7: bad Metrics: '0' is not a port (1-65535)"],
    ['Metrics = 127.0.0.1:65536', "gw.conf:7: bad Metrics: '65536' is not a port (1-65535)"],
    ['Metrics = 127.0.0.1:9586\nMetrics = 127.0.0.1:9587', 'gw.conf:8: Metrics is set twice in this section (first at line 7)'],
  ];
  for (const [line, message] of cases) assert.equal(errorsOf(`${base}${line}\n`), [message], line);
  assert.equal(errorsOf(`[Interface]\nPrivateKey = ${PRIV}\nMetrics = 127.0.0.1:9586\n`), ["gw.conf:3: unknown key 'Metrics' in [Interface]"], 'only in [Gateway]');
});

// ------------------------------------------------------------------ registry on a fake device

const keyOf = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);
const KEY_ALICE = keyToBase64(keyOf(0x11));
const KEY_NONAME = keyToBase64(keyOf(0x22));
const KEY_ODD = keyToBase64(keyOf(0x33));

/** A device stand-in: peers by id, engine drop counters, device counters; all mutable by the test. */
function fakeDevice(): { device: MetricsDevice; peers: Map<number, PeerInfo>; drops: Float64Array; counters: DeviceCounters } {
  const peers = new Map<number, PeerInfo>();
  const drops = new Float64Array(DROP_REASON_COUNT);
  const counters: DeviceCounters = { noRoute: 0, badSource: 0, noEndpoint: 0, tunWriteDrops: 0, filtered: 0, outboundFiltered: 0 };
  const engine: MetricsDevice['engine'] = {
    peerIds: () => [...peers.keys()].sort((a, b) => a - b),
    peerInfo: (id) => peers.get(id) ?? null,
    dropsByReason: drops,
  };
  return { device: { engine, counters }, peers, drops, counters };
}

function peer(id: number, key: string, rx: number, tx: number, handshakeNs: bigint): PeerInfo {
  const publicKey = keyFromBase64(key);
  if (!publicKey) throw new Error('bad key');
  return { id, publicKey, hasPresharedKey: true, persistentKeepalive: 0, lastHandshakeWallNs: handshakeNs, rxBytes: rx, txBytes: tx, rxPackets: 0, txPackets: 0, hasSession: true, staged: 0 };
}

test('registry: exact lines per peer (names, escaping, unnamed), gauges, removal, drops by reason, DNS by outcome', async () => {
  const fake = fakeDevice();
  fake.peers.set(0, peer(0, KEY_ALICE, 1234, 5678, 1_700_000_000_123_456_789n));
  fake.peers.set(1, peer(1, KEY_NONAME, 92, 0, 0n));
  fake.peers.set(3, peer(3, KEY_ODD, 7, 8, 1_700_000_100_000_000_000n));
  const names = new Map([[KEY_ALICE, 'alice'], [KEY_ODD, 'we"ird\\name\nx'], ['not-on-device', 'ghost']]);
  const denied = new Map([[KEY_ODD, 5]]);
  let dns: DnsCounters | null = null;
  const m = new InterfaceMetrics({ ifname: 'gw"0', device: fake.device, names: () => names, denied: () => denied, dns: () => dns });
  const get = (name: string): Promise<string> => m.registry.getSingleMetricAsString(name);

  const l = (key: string, name: string): string => `{interface="gw\\"0",public_key="${key}",name="${name}"}`;
  assert.is(await get('wgts_peer_receive_bytes_total'), [
    '# HELP wgts_peer_receive_bytes_total Bytes of authenticated datagrams received from the peer.',
    '# TYPE wgts_peer_receive_bytes_total counter',
    `wgts_peer_receive_bytes_total${l(KEY_ALICE, 'alice')} 1234`,
    `wgts_peer_receive_bytes_total${l(KEY_NONAME, '')} 92`,
    `wgts_peer_receive_bytes_total${l(KEY_ODD, 'we\\"ird\\\\name\\nx')} 7`,
  ].join('\n'));
  assert.is(await get('wgts_peer_transmit_bytes_total'), [
    '# HELP wgts_peer_transmit_bytes_total Bytes of datagrams sent to the peer.',
    '# TYPE wgts_peer_transmit_bytes_total counter',
    `wgts_peer_transmit_bytes_total${l(KEY_ALICE, 'alice')} 5678`,
    `wgts_peer_transmit_bytes_total${l(KEY_NONAME, '')} 0`,
    `wgts_peer_transmit_bytes_total${l(KEY_ODD, 'we\\"ird\\\\name\\nx')} 8`,
  ].join('\n'));
  assert.is(await get('wgts_peer_last_handshake_seconds'), [
    '# HELP wgts_peer_last_handshake_seconds Unix time of the last completed handshake with the peer; 0 = never.',
    '# TYPE wgts_peer_last_handshake_seconds gauge',
    `wgts_peer_last_handshake_seconds${l(KEY_ALICE, 'alice')} 1700000000.123`,
    `wgts_peer_last_handshake_seconds${l(KEY_NONAME, '')} 0`,
    `wgts_peer_last_handshake_seconds${l(KEY_ODD, 'we\\"ird\\\\name\\nx')} 1700000100`,
  ].join('\n'));
  assert.match(await get('wgts_peer_denied_packets_total'), [
    `wgts_peer_denied_packets_total${l(KEY_ALICE, 'alice')} 0`,
    `wgts_peer_denied_packets_total${l(KEY_NONAME, '')} 0`,
    `wgts_peer_denied_packets_total${l(KEY_ODD, 'we\\"ird\\\\name\\nx')} 5`,
  ].join('\n'));
  assert.match(await get('wgts_peers'), '\nwgts_peers{interface="gw\\"0"} 3');

  // Values are read on every scrape; a removed peer's series go with it.
  fake.peers.set(0, peer(0, KEY_ALICE, 2000, 6000, 1_700_000_060_000_000_000n));
  fake.peers.delete(1);
  denied.set(KEY_ODD, 9);
  const rx = (await get('wgts_peer_receive_bytes_total')).split('\n').slice(2);
  assert.equal(rx, [`wgts_peer_receive_bytes_total${l(KEY_ALICE, 'alice')} 2000`, `wgts_peer_receive_bytes_total${l(KEY_ODD, 'we\\"ird\\\\name\\nx')} 7`]);
  assert.match(await get('wgts_peer_last_handshake_seconds'), `${l(KEY_ALICE, 'alice')} 1700000060\n`);
  assert.match(await get('wgts_peer_denied_packets_total'), `${l(KEY_ODD, 'we\\"ird\\\\name\\nx')} 9`);
  assert.match(await get('wgts_peers'), '} 2');

  fake.drops[-DROP_BAD_MAC1] = 4;
  fake.drops[-DROP_REPLAY] = 17;
  fake.drops[-DROP_STAGED_EXPIRED] = 2;
  fake.counters.noRoute = 3;
  fake.counters.filtered = 9;
  fake.counters.tunWriteDrops = 1;
  const drops = (await get('wgts_drops_total')).split('\n');
  assert.is(drops[1], '# TYPE wgts_drops_total counter');
  const series = drops.slice(2);
  assert.is(series.length, DROP_REASON_COUNT - 2 + 6, 'every engine reason (not the queued code) and every device counter');
  for (const line of ['reason="bad-mac1"} 4', 'reason="replay"} 17', 'reason="staged-expired"} 2', 'reason="no-private-key"} 0',
    'reason="no-route"} 3', 'reason="filtered"} 9', 'reason="tun-write-failed"} 1', 'reason="bad-source"} 0', 'reason="no-endpoint"} 0',
    'reason="not-a-flow"} 0']) {
    assert.ok(series.includes(`wgts_drops_total{interface="gw\\"0",${line}`), line);
  }
  assert.not.ok(series.some((s) => s.includes('queued')));

  assert.is(await get('wgts_dns_queries_total'), '# HELP wgts_dns_queries_total DNS queries to the gateway by outcome (servfail also counts forwards that got no upstream answer).\n# TYPE wgts_dns_queries_total counter',
    'no series without a DNS responder');
  dns = { queries: 14, answered: 7, nxdomain: 2, refused: 1, forwarded: 0, fallback: 2, malformed: 1, formerr: 1, notimp: 0, servfail: 0, forbidden: 5, tcpRejected: 3, tcpTimeouts: 1 };
  assert.equal((await get('wgts_dns_queries_total')).split('\n').slice(2), [
    'answered 7', 'nxdomain 2', 'refused 1', 'forwarded 0', 'fallback 2', 'malformed 1', 'formerr 1', 'notimp 0', 'servfail 0',
  ].map((s) => `wgts_dns_queries_total{interface="gw\\"0",outcome="${s.split(' ')[0]}"} ${s.split(' ')[1]}`));
  assert.equal((await get('wgts_dns_dropped_total')).split('\n').slice(2), [
    'source-not-allowed 5', 'tcp-connection-limit 3', 'tcp-message-deadline 1',
  ].map((s) => `wgts_dns_dropped_total{interface="gw\\"0",reason="${s.split(' ')[0]}"} ${s.split(' ')[1]}`));

  const all = await m.registry.metrics();
  assert.match(all, /^wgts_process_cpu_user_seconds_total \d/m, 'process metrics with the wgts_ prefix');
  assert.match(all, /^wgts_nodejs_heap_size_total_bytes \d/m);
  const types = [...all.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]);
  assert.ok(types.length > 20);
  assert.equal(types.filter((t) => !t.startsWith('wgts_')), [], 'every metric is wgts_');
  assert.not.ok(all.includes('ghost'), 'names of peers the device does not have are not listed');
  assert.is(globalRegistry.getMetricsAsArray().length, 0, 'the process-global registry stays empty');
});

// ------------------------------------------------------------------ HTTP endpoint on loopback

interface Reply { status: number; headers: Headers; body: string }

async function get(url: string, init: RequestInit = {}): Promise<Reply> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

/** A raw TCP connection to 127.0.0.1:port; resolves once connected. */
function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the ms until the peer closes `s` (bounded by `limitMs`, then -1). */
function closedWithin(s: Socket, limitMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(-1), limitMs);
    s.on('data', () => undefined);
    s.once('close', () => { clearTimeout(timer); resolve(Date.now() - t0); });
  });
}

test('HTTP: GET/HEAD /metrics only, 404 elsewhere, no bodies, few connections, stalled clients cut, close', async () => {
  const fake = fakeDevice();
  fake.peers.set(0, peer(0, KEY_ALICE, 10, 20, 0n));
  const m = new InterfaceMetrics({ ifname: 'gw0', device: fake.device, names: () => new Map([[KEY_ALICE, 'alice']]), denied: () => new Map(), dns: () => null });
  const errors: string[] = [];
  const server: MetricsServer = await m.serve({ host: '127.0.0.1', port: 0 }, (e) => errors.push(e));
  const port = server.address.port;
  assert.ok(port > 0);
  const base = `http://127.0.0.1:${port}`;
  try {
    const ok = await get(`${base}/metrics`);
    assert.is(ok.status, 200);
    assert.is(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(ok.body, `wgts_peer_receive_bytes_total{interface="gw0",public_key="${KEY_ALICE}",name="alice"} 10\n`);
    assert.is((await get(`${base}/metrics?name[]=x`)).status, 200, 'a query string is ignored');
    const head = await get(`${base}/metrics`, { method: 'HEAD' });
    assert.is(head.status, 200);
    assert.is(head.body, '');
    for (const path of ['/', '/metric', '/metrics/', '/other']) assert.is((await get(`${base}${path}`)).status, 404, path);
    const del = await get(`${base}/metrics`, { method: 'DELETE' });
    assert.is(del.status, 405);
    assert.is(del.headers.get('allow'), 'GET, HEAD');
    const post = await get(`${base}/metrics`, { method: 'POST', body: 'x'.repeat(10_000) });
    assert.is(post.status, 413);
    assert.is(post.headers.get('connection'), 'close');

    // Connections beyond the limit are closed at once; the others still get served afterwards.
    const idle = await Promise.all(Array.from({ length: METRICS_MAX_CONNECTIONS }, () => rawConnect(port)));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawConnect(port);
    assert.ok((await closedWithin(extra, 2000)) >= 0, 'the connection over the limit is closed');
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.is((await get(`${base}/metrics`)).status, 200);

    // A client that never finishes its request head is cut after the headers timeout.
    const slow = await rawConnect(port);
    slow.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const cut = await closedWithin(slow, METRICS_HEADERS_TIMEOUT_MS + 4000);
    console.log(`  stalled request head closed after ${cut} ms (headers timeout ${METRICS_HEADERS_TIMEOUT_MS} ms)`);
    assert.ok(cut >= METRICS_HEADERS_TIMEOUT_MS - 100 && cut <= METRICS_HEADERS_TIMEOUT_MS + 2500, `closed after ${cut} ms`);

    // Taken port: the second server cannot listen.
    let refused = '';
    await m.serve({ host: '127.0.0.1', port }, () => undefined).then((s) => s.close(), (e: unknown) => { refused = String(e); });
    assert.match(refused, 'EADDRINUSE');
  } finally {
    const keepAlive = await rawConnect(port);
    const t0 = Date.now();
    await server.close();
    assert.ok(Date.now() - t0 < 1000, 'close does not wait for idle connections');
    assert.ok(keepAlive.destroyed || (await closedWithin(keepAlive, 1000)) >= 0);
  }
  const after = await rawConnect(port).then((c) => { c.destroy(); return 'connected'; }, (e: unknown) => String(e));
  assert.match(after, 'ECONNREFUSED', 'nothing listens after close');
  assert.equal(errors, []);
});

// ------------------------------------------------------------------ end to end

const work = mkdtempSync(join(tmpdir(), 'wgts-metrics-'));
const gwIf = uniqueIfname('gm');
const aIf = uniqueIfname('ma');
const cIf = uniqueIfname('mc');
const conf = (ifname: string): string => join(work, `${ifname}.conf`);
const gwFile = conf(gwIf);
const PORT = 9586;

let gw: Netns;
let lapA: Netns;
let lapC: Netns;

const procs: UpProc[] = [];

/** Starts `wgts up` for `ifname`'s config in `ns` (see startUp). */
function up(ns: Netns, ifname: string): Promise<UpProc> {
  return startUp(ns, conf(ifname), ifname, procs);
}

/** `curl` inside the gateway namespace: status code and body. */
function scrape(port: number, path = '/metrics'): { code: string; body: string } | null {
  const r = gw.tryExec('curl', ['-s', '-m', '3', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`], { timeoutMs: 5000 });
  if (r.status !== 0) return null;
  const cut = r.stdout.lastIndexOf('\n');
  return { code: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
}

/** The value of one series, or null when the scrape has no such line. */
function value(text: string, metric: string, labels: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${metric}{${labels}} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function peerKey(name: string): string {
  const listed = JSON.parse(wgtsOk(['peer', 'list', gwFile, '--json'])) as { name: string; publicKey: string }[];
  const key = listed.find((p) => p.name === name)?.publicKey;
  if (!key) throw new Error(`no peer ${name}`);
  return key;
}

/** Sets (or with null removes) `Metrics =` in the gateway file, through the locked edit path. */
async function setMetrics(value: string | null): Promise<void> {
  const r = await editConfigFile(gwFile, (doc) => setKey(doc, 'Gateway', 'Metrics', value));
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
}

/** Drops the DNS = line of a laptop config: these laptops need no resolver, so no resolv.conf is touched. */
async function withoutDns(file: string): Promise<void> {
  const r = await editConfigFile(file, (doc) => setKey(doc, 'Interface', 'DNS', null));
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
}

test('end to end: gateway with Metrics; a laptop asks DNS, a restricted one is refused; curl scrapes in the gateway namespace', async () => {
  gw = new Netns('mgw');
  guardResolvConf(gw);
  lapA = new Netns('mla');
  lapC = new Netns('mlc');
  internetBridge(gw, [lapA, lapC], 'vm', false);

  wgtsOk(['gateway', 'init', gwFile, '--domain', 'zerops', '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820',
    '--host', 'app=10.124.0.10']);
  wgtsOk(['peer', 'add', gwFile, 'alice', '--out', conf(aIf)]);
  wgtsOk(['peer', 'add', gwFile, 'carol', '--allow', '10.124.0.10:3000/tcp', '--out', conf(cIf)]);
  await setMetrics(`127.0.0.1:${PORT}`);
  assert.match(readFileSync(gwFile, 'utf8'), `\nMetrics = 127.0.0.1:${PORT}\n`);
  await withoutDns(conf(aIf));
  await withoutDns(conf(cIf));

  // A taken metrics address fails the start, and everything already set up is taken back.
  const squatter = gw.spawn('ncat', ['-lk', '127.0.0.1', String(PORT)]);
  try {
    await waitFor(() => gw.exec('ss', ['-ltn']).includes(`127.0.0.1:${PORT}`), 5000, 25, 'port taken');
    const failed = gw.tryExec(process.execPath, [wgtsScript, 'up', gwFile], { timeoutMs: 20_000 });
    assert.is(failed.status, 1);
    assert.match(failed.stderr, `cannot serve metrics on 127.0.0.1:${PORT}: listen EADDRINUSE`);
    assert.is(gw.tryExec('ip', ['link', 'show', gwIf]).status, 1, 'interface removed');
    assert.not.match(gw.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING']), 'wgts:', 'masquerade removed');
    assert.not.ok(existsSync(statusPath(gwIf)));
  } finally {
    squatter.kill('SIGKILL');
  }
  await waitFor(() => !gw.exec('ss', ['-ltn']).includes(`127.0.0.1:${PORT}`), 5000, 25, 'port free');

  const g = await up(gw, gwIf);
  assert.match(g.out(), `metrics on http://127.0.0.1:${PORT}/metrics`);
  const first = scrape(PORT);
  assert.ok(first && first.code === '200', 'metrics served');
  const alice = peerKey('alice');
  const carol = peerKey('carol');
  const labels = (key: string, name: string): string => `interface="${gwIf}",public_key="${key}",name="${name}"`;
  assert.is(value(first?.body ?? '', 'wgts_peers', `interface="${gwIf}"`), 2);
  assert.is(value(first?.body ?? '', 'wgts_peer_last_handshake_seconds', labels(alice, 'alice')), 0, 'no handshake yet');

  await up(lapA, aIf);
  await up(lapC, cIf);
  // DNS is the one thing of the gateway host every peer reaches (a ping of it is refused: README "Access").
  const dig = lapA.tryExec('dig', ['+short', '+time=2', '+tries=1', '@10.123.0.1', 'app.zerops'], { timeoutMs: 10_000 });
  assert.is(dig.stdout.trim(), '10.124.0.10', 'one DNS query through the tunnel');
  // carol may only reach app:3000/tcp: a connection to db:5432 and a ping of the gateway are refused.
  assert.not.ok(lapC.tryExec('ncat', ['--recv-only', '-w', '1', '10.124.0.11', '5432'], { timeoutMs: 5000 }).status === 0);
  assert.is(lapC.tryExec('ping', ['-c', '1', '-W', '1', '10.123.0.1'], { timeoutMs: 5000 }).status, 1);

  const t0 = Date.now();
  const s = scrape(PORT);
  console.log(`  scrape through curl in the namespace: ${Date.now() - t0} ms (${s?.body.length ?? 0} bytes)`);
  assert.ok(s && s.code === '200');
  const text = s?.body ?? '';
  const now = Date.now() / 1000;
  for (const [key, name] of [[alice, 'alice'], [carol, 'carol']]) {
    assert.ok((value(text, 'wgts_peer_receive_bytes_total', labels(key, name)) ?? 0) > 0, `${name} rx`);
    assert.ok((value(text, 'wgts_peer_transmit_bytes_total', labels(key, name)) ?? 0) > 0, `${name} tx`);
    const hs = value(text, 'wgts_peer_last_handshake_seconds', labels(key, name)) ?? 0;
    assert.ok(hs > now - 60 && hs <= now + 1, `${name} handshake within the last minute (${hs} vs ${now})`);
  }
  assert.is(value(text, 'wgts_peer_denied_packets_total', labels(alice, 'alice')), 0);
  const deniedCarol = value(text, 'wgts_peer_denied_packets_total', labels(carol, 'carol')) ?? 0;
  assert.ok(deniedCarol >= 2, `carol's refused packets counted (${deniedCarol})`);
  assert.ok((value(text, 'wgts_drops_total', `interface="${gwIf}",reason="filtered"`) ?? 0) >= deniedCarol);
  assert.is(value(text, 'wgts_dns_queries_total', `interface="${gwIf}",outcome="answered"`), 1);
  assert.match(text, /^wgts_process_resident_memory_bytes \d+/m);
  // Only public keys: neither the gateway's private key nor any preshared key is in the text.
  const secrets = readFileSync(gwFile, 'utf8').split('\n').filter((l) => /^(PrivateKey|PresharedKey) = /.test(l)).map((l) => l.split(' = ')[1]);
  assert.is(secrets.length, 3);
  for (const secret of secrets) {
    assert.not.ok(text.includes(secret), 'no secret key in the metrics');
    assert.not.ok(text.includes(Buffer.from(secret, 'base64').toString('hex')));
  }

  const other = scrape(PORT, '/');
  assert.is(other?.code, '404');
  assert.is(scrape(PORT, '/debug')?.code, '404');
  assert.is(gw.tryExec('curl', ['-s', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', `http://10.123.0.1:${PORT}/metrics`]).stdout, '000',
    'only the configured address listens');
});

test('end to end: live reload moves the metrics address and removes it; wgts down stops the server', async () => {
  const g = procs[0];
  await setMetrics(`127.0.0.1:${PORT + 1}`);
  await waitFor(() => scrape(PORT + 1)?.code === '200', 5000, 50, 'metrics on the new port');
  assert.is(scrape(PORT), null, 'the old port is closed');
  await waitFor(() => g.out().includes(`metrics on 127.0.0.1:${PORT} stopped`), 5000, 50, 'old metrics server stopped');
  await setMetrics(null);
  await waitFor(() => g.out().includes(`metrics on 127.0.0.1:${PORT + 1} stopped`), 5000, 50, 'metrics stopped');
  assert.is(scrape(PORT + 1), null);
  await setMetrics(`127.0.0.1:${PORT}`);
  await waitFor(() => scrape(PORT)?.code === '200', 5000, 50, 'metrics back');
  assert.match(scrape(PORT)?.body ?? '', `name="alice"`, 'the counters survive a move');

  wgtsOk(['down', gwIf], gw);
  await waitFor(() => g.exit() !== null, 5000, 25, 'gateway exit');
  assert.is(g.exit(), 0);
  assert.is(scrape(PORT), null, 'no metrics server after down');
  assert.not.match(gw.exec('ss', ['-ltn']), `:${PORT}`);
});

test.after(() => {
  for (const p of procs) if (p.exit() === null) p.kill('SIGKILL');
  for (const ns of [gw, lapA, lapC]) ns?.delete();
  for (const ifname of [gwIf, aIf, cIf]) {
    rmSync(statusPath(ifname), { force: true });
    if (existsSync(socketPath(ifname))) rmSync(socketPath(ifname), { force: true });
  }
  rmSync(work, { recursive: true, force: true });
});

test.run();
