// Gateway onboarding as a library: initGateway option checks and file safety, address allocation
// (sequential, skipping taken addresses, reuse after removal, full subnet), the client config
// (our parser, `wg pubkey`, `wg-quick strip`, and a real `wg-quick up` that handshakes with a
// wireguard-go gateway configured from the gateway file, inside test-owned namespaces).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { formatCidr } from '../../src/config/ip.js';
import type { WgtsConfig } from '../../src/config/model.js';
import { parseConfig } from '../../src/config/parse.js';
import { toWgSetconf } from '../../src/config/strip.js';
import {
  addPeer, initGateway, listPeers, OnboardError, removePeer, type InitOptions, type OnboardErrorCode,
} from '../../src/gateway/onboard.js';
import { Netns } from '../helpers/netns.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-onboard-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
/** A fresh path in the temp dir (the file does not exist yet). */
const freshPath = (base = 'gw'): string => join(dir, `${base}${fileCounter++}.conf`);

const BASE: InitOptions = {
  address: '10.123.0.1/24',
  networks: ['10.124.0.0/24'],
  endpoint: 'vpn.example.com:51820',
  hosts: ['app=10.124.0.10', 'db=10.124.0.11'],
};

async function newGateway(opts: Partial<InitOptions> = {}): Promise<string> {
  const file = freshPath();
  await initGateway(file, { ...BASE, ...opts });
  return file;
}

/** Parses a file; fails the test with its errors when it does not parse. */
function parseFile(file: string): WgtsConfig {
  const r = parseConfig(readFileSync(file, 'utf8'), file);
  if (!r.ok) throw new Error(`${file} does not parse:\n${r.errors.map((e) => e.message).join('\n')}`);
  return r.config;
}

function parseText(text: string, name: string): WgtsConfig {
  const r = parseConfig(text, name);
  if (!r.ok) throw new Error(`${name} does not parse:\n${r.errors.map((e) => e.message).join('\n')}\n${text}`);
  return r.config;
}

/** The public key `wg pubkey` derives from a base64 private key (an independent implementation). */
function wgPubkey(privateKey: string): string {
  const r = spawnSync('wg', ['pubkey'], { input: `${privateKey}\n`, encoding: 'utf8', timeout: 10_000 });
  assert.is(r.status, 0, `wg pubkey: ${r.stderr}`);
  return r.stdout.trim();
}

/** Awaits `p` and asserts it rejects with an OnboardError of `code` whose message matches `pattern`. */
async function rejects(p: Promise<unknown>, code: OnboardErrorCode, pattern: RegExp | string): Promise<OnboardError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof OnboardError)) throw e;
    assert.is(e.code, code, `code of: ${e.message}`);
    if (typeof pattern === 'string') assert.ok(e.message.includes(pattern), `message '${e.message}' should contain '${pattern}'`);
    else assert.match(e.message, pattern);
    return e;
  }
  assert.unreachable(`expected an OnboardError ${code}`);
  throw new Error('unreachable');
}

/** The invariants every version of a gateway file keeps: parses, unique names / addresses / keys. */
function checkInvariants(file: string): WgtsConfig {
  const config = parseFile(file);
  const addrs = config.peers.flatMap((p) => p.allowedIPs.map(formatCidr));
  assert.is(new Set(addrs).size, addrs.length, `duplicate AllowedIPs in ${file}: ${addrs.join(' ')}`);
  const names = config.peers.flatMap((p) => (p.name === undefined ? [] : [p.name.toLowerCase()]));
  assert.is(new Set(names).size, names.length, 'duplicate names');
  assert.is(new Set(config.peers.map((p) => p.publicKey)).size, config.peers.length, 'duplicate keys');
  return config;
}

const nameAddr = async (file: string): Promise<string[]> => (await listPeers(file)).map((p) => `${p.name}=${p.address}`);

test('initGateway writes a private (0600) gateway config that parses to the options', async () => {
  const file = freshPath();
  const r = await initGateway(file, { ...BASE, address: ['10.123.0.1/24', 'fd00:123::1/64'], networks: ['10.124.0.0/24', '10.125.0.0/16', 'fd00:124::/64'], listenPort: 51999, domain: 'Corp.Example' });
  assert.is(statSync(file).mode & 0o777, 0o600);
  const c = parseFile(file);
  assert.ok(c.interface.privateKey);
  assert.is(r.publicKey, wgPubkey(c.interface.privateKey ?? ''));
  assert.equal(r.addresses, ['10.123.0.1/24', 'fd00:123::1/64']);
  assert.equal(c.interface.addresses.map(formatCidr), ['10.123.0.1/24', 'fd00:123::1/64']);
  assert.is(c.interface.listenPort, 51999);
  assert.equal(c.gateway?.networks.map(formatCidr), ['10.124.0.0/24', '10.125.0.0/16', 'fd00:124::/64']);
  assert.is(c.gateway?.domain, 'corp.example');
  assert.equal(c.gateway?.endpoint, { host: 'vpn.example.com', port: 51820 });
  assert.equal(c.gateway?.hosts, [{ name: 'app', address: '10.124.0.10' }, { name: 'db', address: '10.124.0.11' }]);
  assert.is(c.gateway?.masquerade, true);
  assert.equal(c.peers, []);
  // Defaults: port 51820, the project name from the file name, and the domain from the project name
  // (two projects never claim one domain).
  const dFile = await newGateway();
  const d = parseFile(dFile);
  assert.is(d.interface.listenPort, 51820);
  const project = basename(dFile).replace(/\.conf$/, '');
  assert.is(d.gateway?.name, project);
  assert.is(d.gateway?.domain, project);
  const named = parseFile(await newGateway({ name: 'shop' }));
  assert.equal([named.gateway?.name, named.gateway?.domain], ['shop', 'shop']);
  await rejects(newGateway({ name: 'Shop_1' }), 'bad-option', "name 'Shop_1' is not a project name");
  // Two inits make two different keys.
  assert.is.not(d.interface.privateKey, c.interface.privateKey);
});

test('initGateway refuses to overwrite without force; force replaces the file', async () => {
  const file = await newGateway();
  const before = readFileSync(file, 'utf8');
  await rejects(initGateway(file, BASE), 'exists', 'already exists');
  assert.is(readFileSync(file, 'utf8'), before, 'unchanged');
  await addPeer(file, 'alice');
  const r = await initGateway(file, { ...BASE, force: true });
  const c = parseFile(file);
  assert.is(wgPubkey(c.interface.privateKey ?? ''), r.publicKey);
  assert.is.not(readFileSync(file, 'utf8'), before);
  assert.equal(c.peers, [], 'a forced init starts without peers');
  await rejects(initGateway(join(dir, 'no-such-dir', 'gw.conf'), BASE), 'no-file', 'does not exist');
});

test('initGateway rejects every bad option with a message naming it, and writes nothing', async () => {
  const cases: [Partial<InitOptions>, string][] = [
    [{ address: '10.123.0.1' }, "address '10.123.0.1'"],
    [{ address: '10.123.0.0/24' }, 'network address of 10.123.0.0/24'],
    [{ address: '10.123.0.255/24' }, 'broadcast address'],
    [{ address: '10.123.0.1/31' }, 'leaves no address for peers'],
    [{ address: 'fd00::1/64' }, 'an IPv4 address with its subnet is needed'],
    [{ address: ['10.123.0.1/24', '10.5.0.1/24'] }, 'only one IPv4 address'],
    [{ address: ['10.123.0.1/16', 'fd00::1/120'] }, "address 'fd00::1/120': its subnet is smaller"],
    [{ address: '10.123.0.300/24' }, "address '10.123.0.300/24'"],
    [{ networks: [] }, 'at least one network'],
    [{ networks: ['10.124.0.1/24'] }, "network '10.124.0.1/24': '10.124.0.1/24' has host bits set"],
    [{ networks: ['10.124.0.0'] }, "network '10.124.0.0'"],
    [{ networks: ['10.0.0.0/8'] }, "network '10.0.0.0/8' overlaps the tunnel subnet 10.123.0.0/24"],
    [{ networks: ['10.123.0.128/25'] }, 'overlaps the tunnel subnet'],
    [{ networks: ['10.124.0.0/24', '10.124.0.128/25'] }, "network '10.124.0.128/25' overlaps network 10.124.0.0/24"],
    [{ networks: ['0.0.0.0/0'] }, 'full tunnel'],
    [{ networks: ['10.124.0.0/24', 'fd00:124::/64'] }, 'the gateway needs an IPv6 address'],
    [{ endpoint: 'vpn.example.com' }, "endpoint 'vpn.example.com'"],
    [{ endpoint: 'vpn.example.com:0' }, "endpoint 'vpn.example.com:0'"],
    [{ endpoint: 'bad_host!:51820' }, "endpoint 'bad_host!:51820'"],
    [{ endpoint: '10.124.0.5:51820' }, 'is inside 10.124.0.0/24'],
    [{ listenPort: 70000 }, "listen port '70000'"],
    [{ listenPort: 1.5 }, "listen port '1.5'"],
    [{ domain: 'bad..domain' }, "domain 'bad..domain'"],
    [{ domain: 'under score-.x' }, "domain 'under score-.x'"],
    [{ hosts: ['app'] }, "host 'app': expected NAME=IP"],
    [{ hosts: ['app=10.124.0.999'] }, "host 'app=10.124.0.999'"],
    [{ hosts: ['app=10.200.0.1'] }, "host 'app=10.200.0.1': 10.200.0.1 is outside the networks"],
    [{ hosts: ['b@d=10.124.0.1'] }, "host 'b@d=10.124.0.1'"],
    [{ hosts: ['app=10.124.0.1', 'APP=10.124.0.2'] }, "the name 'app' is given twice"],
    [{ hosts: ['gateway=10.124.0.1'] }, 'reserved for the gateway'],
  ];
  for (const [opts, want] of cases) {
    const file = freshPath();
    await rejects(initGateway(file, { ...BASE, ...opts }), 'bad-option', want);
    assert.not.ok(existsSync(file), `nothing written for ${JSON.stringify(opts)}`);
  }
  // Several problems are reported together.
  const e = await rejects(initGateway(freshPath(), { ...BASE, endpoint: 'x', domain: '-', listenPort: 0 }), 'bad-option', 'endpoint');
  assert.is(e.problems.length, 3, e.message);
  // IPv6 endpoints need brackets; DNS names and IPv4 are fine.
  for (const endpoint of ['[2001:db8::1]:51820', '192.0.2.1:443', 'gw.corp.example:51820']) {
    parseFile(await newGateway({ endpoint }));
  }
});

test('peers get sequential addresses; the file parses and lists the right peers after every change', async () => {
  const file = await newGateway();
  const want: string[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await addPeer(file, `laptop${i}`);
    assert.is(r.address, `10.123.0.${i + 2}`);
    want.push(`laptop${i}=10.123.0.${i + 2}`);
    const c = checkInvariants(file);
    assert.equal(await nameAddr(file), want);
    const p = c.peers[i];
    assert.is(p.publicKey, r.publicKey);
    assert.equal(p.allowedIPs.map(formatCidr), [`10.123.0.${i + 2}/32`]);
    assert.ok(p.presharedKey, 'a preshared key is recorded');
    assert.equal(p.allow, []);
  }
  assert.is(statSync(file).mode & 0o777, 0o600, 'still private');
});

test('allocation skips the network, the gateway, and addresses any peer already routes', async () => {
  const file = await newGateway({ address: '10.123.0.3/24' });
  // Hand-added peers covering .5 and .8-.11 (a /30), with keys not made by addPeer.
  const text = readFileSync(file, 'utf8');
  const key = (n: number): string => Buffer.alloc(32, n).toString('base64');
  writeFileSync(file, `${text}\n[Peer]\nPublicKey = ${key(1)}\nAllowedIPs = 10.123.0.5/32\n\n[Peer]\nPublicKey = ${key(2)}\nAllowedIPs = 10.123.0.8/30, 10.124.0.0/24\n`);
  const got: string[] = [];
  for (let i = 0; i < 6; i++) got.push((await addPeer(file, `p${i}`)).address);
  assert.equal(got, ['10.123.0.1', '10.123.0.2', '10.123.0.4', '10.123.0.6', '10.123.0.7', '10.123.0.12']);
  checkInvariants(file);
});

test('a full subnet is an error and leaves the file unchanged (/29: 5 peers)', async () => {
  const file = await newGateway({ address: '10.123.0.1/29' });
  const got: string[] = [];
  for (let i = 0; i < 5; i++) got.push((await addPeer(file, `p${i}`)).address);
  assert.equal(got, ['10.123.0.2', '10.123.0.3', '10.123.0.4', '10.123.0.5', '10.123.0.6']);
  const before = readFileSync(file, 'utf8');
  await rejects(addPeer(file, 'one-too-many'), 'subnet-full', 'no free tunnel address left in 10.123.0.0/29');
  assert.is(readFileSync(file, 'utf8'), before);
  // Removing one frees exactly that address.
  await removePeer(file, 'p2');
  assert.is((await addPeer(file, 'again')).address, '10.123.0.4');
  await rejects(addPeer(file, 'again2'), 'subnet-full', 'remove a peer');
});

test('duplicate names (any case) and invalid names are rejected, the file unchanged', async () => {
  const file = await newGateway();
  await addPeer(file, 'alice');
  const before = readFileSync(file, 'utf8');
  await rejects(addPeer(file, 'alice'), 'duplicate-name', "already has a peer named 'alice'");
  await rejects(addPeer(file, 'ALICE'), 'duplicate-name', "named 'ALICE'");
  for (const bad of ['', 'has space', '-dash', 'x'.repeat(64), 'a#b', 'a=b']) {
    await rejects(addPeer(file, bad), 'bad-name', 'peer name');
  }
  assert.is(readFileSync(file, 'utf8'), before);
});

test('allow rules: valid ones are recorded; a bad one is named in the error and nothing changes', async () => {
  const file = await newGateway({ address: ['10.123.0.1/24', 'fd00:123::1/64'], networks: ['10.124.0.0/24', 'fd00:124::/64'] });
  const rules = ['10.124.0.10/32:3000/tcp', '10.124.0.11:5432/tcp', '10.124.0.0/24/icmp', '10.124.0.12:8000-8100/udp', 'fd00:124::5/128:80/tcp', '10.0.0.0/8'];
  const r = await addPeer(file, 'alice', { allow: rules });
  const alice = parseFile(file).peers.find((p) => p.name === 'alice');
  assert.equal(alice?.allow, rules);
  assert.equal((await listPeers(file))[0].allow, rules);
  assert.is(r.address6, 'fd00:123::2');
  const before = readFileSync(file, 'utf8');
  const bad: [string, string][] = [
    ['10.124.0.10:99999/tcp', "'10.124.0.10:99999/tcp'"],
    ['10.124.0.10:3000/xyz', "'10.124.0.10:3000/xyz'"],
    ['10.124.0.10:3000/icmp', "'10.124.0.10:3000/icmp'"],
    ['10.124.0.10/33', "'10.124.0.10/33'"],
    ['10.124.0.10:90-80', "'10.124.0.10:90-80'"],
    ['fd00:124::5', "'fd00:124::5'"],
    ['app:3000', "'app:3000'"],
    ['192.168.1.0/24', "allow rule '192.168.1.0/24' is outside the project networks"],
    ['10.123.0.1/32:22/tcp', "allow rule '10.123.0.1/32:22/tcp' is outside"],
  ];
  for (const [rule, want] of bad) {
    await rejects(addPeer(file, 'bob', { allow: ['10.124.0.10/32', rule] }), 'bad-allow', want);
  }
  assert.is(readFileSync(file, 'utf8'), before);
});

test('remove by name (any case) or key, then add reuses the freed address', async () => {
  const file = await newGateway();
  const a = await addPeer(file, 'alice');
  const b = await addPeer(file, 'bob');
  await addPeer(file, 'carol');
  const removed = await removePeer(file, 'BOB');
  assert.is(removed.name, 'bob');
  assert.is(removed.address, b.address);
  assert.is(removed.publicKey, b.publicKey);
  assert.equal(await nameAddr(file), ['alice=10.123.0.2', 'carol=10.123.0.4']);
  checkInvariants(file);
  assert.is((await addPeer(file, 'dave')).address, '10.123.0.3');
  assert.equal(await nameAddr(file), ['alice=10.123.0.2', 'carol=10.123.0.4', 'dave=10.123.0.3']);
  await removePeer(file, a.publicKey);
  assert.equal(await nameAddr(file), ['carol=10.123.0.4', 'dave=10.123.0.3']);
  const before = readFileSync(file, 'utf8');
  await rejects(removePeer(file, 'alice'), 'no-such-peer', "no peer named 'alice'");
  assert.is(readFileSync(file, 'utf8'), before);
  assert.is((await addPeer(file, 'alice')).address, '10.123.0.2');
  // A removed name can be used again; the file keeps parsing throughout.
  checkInvariants(file);
});

test('the client config: parses, gateway DNS + domain, networks + gateway /32, keepalive 25, matching keys', async () => {
  const file = await newGateway({ networks: ['10.124.0.0/24', '172.20.0.0/16'], domain: 'zerops' });
  const r = await addPeer(file, 'alice', { allow: ['10.124.0.10/32:3000/tcp'] });
  const client = parseText(r.clientConfig, 'alice.conf');
  const gw = parseFile(file);
  const recorded = gw.peers.find((p) => p.name === 'alice');
  assert.ok(recorded);
  // Interface: the laptop's key, its /32, DNS = gateway tunnel IP + domain.
  assert.equal(client.interface.addresses.map(formatCidr), ['10.123.0.2/32']);
  assert.equal(client.interface.dns, ['10.123.0.1']);
  assert.equal(client.interface.dnsSearch, ['zerops']);
  assert.match(r.clientConfig, /^DNS = 10\.123\.0\.1, zerops$/m);
  const clientPriv = client.interface.privateKey ?? '';
  assert.is(wgPubkey(clientPriv), recorded?.publicKey, "the printed key's public key is the one the gateway recorded");
  assert.is(r.publicKey, recorded?.publicKey);
  assert.not.ok(readFileSync(file, 'utf8').includes(clientPriv), 'the laptop private key is not stored on the gateway');
  // The one peer: the gateway.
  assert.is(client.peers.length, 1);
  const peer = client.peers[0];
  assert.is(peer.publicKey, wgPubkey(gw.interface.privateKey ?? ''));
  assert.is(peer.presharedKey, recorded?.presharedKey);
  assert.equal(peer.endpoint, { host: 'vpn.example.com', port: 51820 });
  assert.equal(peer.allowedIPs.map(formatCidr), ['10.124.0.0/24', '172.20.0.0/16', '10.123.0.1/32']);
  assert.is(peer.persistentKeepalive, 25);
  assert.equal(peer.allow, [], 'no wgts-only keys in a client config');
  assert.not.match(r.clientConfig, /^(Name|Allow)\s*=/im);
});

test('IPv6 gateway address: peers get the same host number in both families', async () => {
  const file = await newGateway({ address: ['10.123.0.1/24', 'fd00:123::1/64'], networks: ['10.124.0.0/24', 'fd00:124::/64'] });
  const a = await addPeer(file, 'a');
  const b = await addPeer(file, 'b');
  assert.equal([a.address, a.address6, b.address, b.address6], ['10.123.0.2', 'fd00:123::2', '10.123.0.3', 'fd00:123::3']);
  const client = parseText(b.clientConfig, 'b.conf');
  assert.equal(client.interface.addresses.map(formatCidr), ['10.123.0.3/32', 'fd00:123::3/128']);
  assert.equal(client.peers[0].allowedIPs.map(formatCidr), ['10.124.0.0/24', 'fd00:124::/64', '10.123.0.1/32', 'fd00:123::1/128']);
  assert.equal(parseFile(file).peers.map((p) => p.allowedIPs.map(formatCidr).join(' ')), ['10.123.0.2/32 fd00:123::2/128', '10.123.0.3/32 fd00:123::3/128']);
});

test('wg-quick strip accepts the client config and keeps exactly the wg(8) part', async () => {
  const file = await newGateway({ endpoint: '[2001:db8::7]:51820', address: ['10.123.0.1/24', 'fd00:123::1/64'] });
  const r = await addPeer(file, 'alice');
  const sub = mkdtempSync(join(dir, 'strip-'));
  const conf = join(sub, 'wgc0.conf');
  writeFileSync(conf, r.clientConfig, { mode: 0o600 });
  const s = spawnSync('/usr/bin/wg-quick', ['strip', conf], { encoding: 'utf8', timeout: 10_000 });
  assert.is(s.status, 0, `wg-quick strip: ${s.stderr}`);
  assert.is(s.stderr, '');
  const client = parseText(r.clientConfig, 'wgc0.conf');
  const lines = s.stdout.split('\n');
  assert.ok(lines.includes(`PrivateKey = ${client.interface.privateKey}`));
  assert.ok(lines.includes('PersistentKeepalive = 25'));
  assert.ok(lines.includes('Endpoint = [2001:db8::7]:51820'));
  assert.not.ok(/^(Address|DNS)\s*=/m.test(s.stdout), 'wg-quick keys are stripped');
});

test('errors: parse errors name FILE:LINE; a non-gateway file; a missing file; a bad --out', async () => {
  const file = await newGateway();
  await addPeer(file, 'alice');
  const good = readFileSync(file, 'utf8');
  const lines = good.split('\n');
  const at = lines.indexOf('[Gateway]') + 2;
  lines.splice(at - 1, 0, 'Bogus = 1');
  writeFileSync(file, lines.join('\n'));
  for (const op of [() => addPeer(file, 'bob'), () => listPeers(file), () => removePeer(file, 'alice')]) {
    const e = await rejects(op(), 'config', `${file}:${at}: unknown key 'Bogus' in [Gateway]`);
    assert.is(e.configErrors[0].line, at);
  }
  writeFileSync(file, good);

  const plain = freshPath('plain');
  writeFileSync(plain, `[Interface]\nPrivateKey = ${Buffer.alloc(32, 9).toString('base64')}\nAddress = 10.9.0.1/24\n`, { mode: 0o600 });
  await rejects(addPeer(plain, 'x'), 'not-gateway', 'has no [Gateway] section');
  const noEndpoint = freshPath('noep');
  writeFileSync(noEndpoint, `[Interface]\nPrivateKey = ${Buffer.alloc(32, 9).toString('base64')}\nAddress = 10.9.0.1/24\n[Gateway]\nNetwork = 10.8.0.0/24\n`, { mode: 0o600 });
  await rejects(addPeer(noEndpoint, 'x'), 'not-gateway', 'has no Endpoint');
  await rejects(addPeer(join(dir, 'missing.conf'), 'x'), 'no-file', 'does not exist');
  await rejects(listPeers(join(dir, 'missing.conf')), 'no-file', 'does not exist');

  await rejects(addPeer(file, 'bob', { out: join(dir, 'nodir', 'bob.conf') }), 'bad-out', 'does not exist');
  await rejects(addPeer(file, 'bob', { out: file }), 'bad-out', 'the gateway config itself');
  await rejects(addPeer(file, 'bob', { out: dir }), 'bad-out', 'is a directory');
  assert.is(readFileSync(file, 'utf8'), good, 'no error changed the file');

  const out = join(dir, 'bob.conf');
  const r = await addPeer(file, 'bob', { out });
  assert.is(readFileSync(out, 'utf8'), r.clientConfig);
  assert.is(statSync(out).mode & 0o777, 0o600);
});

test('--upstream: servers in order, or none; absent = the host resolvers (no Upstream line)', async () => {
  const c = parseFile(await newGateway({ upstream: ['10.124.0.2', '[fd00::53]:5353'] }));
  assert.equal(c.gateway?.upstream, [{ host: '10.124.0.2', port: 53 }, { host: 'fd00::53', port: 5353 }]);
  const none = await newGateway({ upstream: ['none'] });
  assert.match(readFileSync(none, 'utf8'), /^Upstream = none$/m);
  const dflt = await newGateway();
  assert.not.match(readFileSync(dflt, 'utf8'), /Upstream/);
  assert.is(parseFile(dflt).gateway?.upstream, undefined);
  await rejects(initGateway(freshPath(), { ...BASE, upstream: ['none', '10.0.0.2'] }), 'bad-option', "upstream 'none' cannot be combined");
  await rejects(initGateway(freshPath(), { ...BASE, upstream: ['dns.google'] }), 'bad-option', "upstream 'dns.google' is not IP");
});

test('the DNS address of every client config is one the gateway listens on, port 53', async () => {
  // IPv6 given first: laptops still get the IPv4 tunnel address, where the gateway listens too.
  const v6first = await newGateway({ address: ['fd00:123::1/64', '10.123.0.1/24'] });
  const a = parseText((await addPeer(v6first, 'alice')).clientConfig, 'alice.conf');
  assert.equal(a.interface.dns, ['10.123.0.1']);
  // ListenDns on the IPv6 tunnel address alone: laptops (which get IPv6 here) are told that one.
  const v6only = await newGateway({ address: ['10.123.0.1/24', 'fd00:123::1/64'] });
  writeFileSync(v6only, readFileSync(v6only, 'utf8').replace('[Gateway]\n', '[Gateway]\nListenDns = [fd00:123::1]:53\n'));
  const b = parseText((await addPeer(v6only, 'bob')).clientConfig, 'bob.conf');
  assert.equal(b.interface.dns, ['fd00:123::1']);
  assert.ok(b.peers[0]?.allowedIPs.some((c) => formatCidr(c) === 'fd00:123::1/128'), 'and route it into the tunnel');
  // Laptops without IPv6 (a /120 cannot number a /16's peers) could not reach an IPv6-only DNS: refused.
  const noV6 = await newGateway({ address: ['10.123.0.1/16', 'fd00:123::1/112'], networks: ['10.124.0.0/24'] });
  writeFileSync(noV6, readFileSync(noV6, 'utf8').replace('Address = 10.123.0.1/16, fd00:123::1/112', 'Address = 10.123.0.1/16, fd00:123::1/120').replace('[Gateway]\n', '[Gateway]\nListenDns = [fd00:123::1]:53\n'));
  const before = readFileSync(noV6, 'utf8');
  await rejects(addPeer(noV6, 'carol'), 'not-gateway', 'is on no address laptops route into the tunnel (10.123.0.1)');
  assert.is(readFileSync(noV6, 'utf8'), before, 'nothing written');
  // A ListenDns on another port is a config error (FILE:LINE), so no peer can be added with it.
  const port = await newGateway();
  writeFileSync(port, readFileSync(port, 'utf8').replace('[Gateway]\n', '[Gateway]\nListenDns = 10.123.0.1:5353\n'));
  await rejects(addPeer(port, 'dave'), 'config', /:\d+: bad ListenDns: port 5353: laptops send DNS to port 53 only/);
});

test('--out: NAME.conf with an interface name, no overwrite without force', async () => {
  const file = await newGateway();
  const longName = 'build-agent-for-the-integration-tests';
  // The proposed name is the project's, the file name every laptop of the project uses.
  await rejects(addPeer(file, longName, { out: join(dir, `${longName}.conf`) }), 'bad-out', `e.g. --out ${join(dir, basename(file))}`);
  await rejects(addPeer(file, 'ci', { out: join(dir, 'ci.txt') }), 'bad-out', 'must be NAME.conf');
  assert.equal(await listPeers(file), [], 'refused before the gateway file changed');
  const out = join(dir, 'build-agent-for.conf');
  await addPeer(file, longName, { out });
  const first = readFileSync(out, 'utf8');
  await rejects(addPeer(file, 'other', { out }), 'bad-out', 'already exists; use --force to replace it');
  assert.is(readFileSync(out, 'utf8'), first, 'the existing file is kept');
  assert.equal((await listPeers(file)).map((p) => p.name), [longName]);
  const r = await addPeer(file, 'other', { out, force: true });
  assert.is(readFileSync(out, 'utf8'), r.clientConfig);
  assert.is(statSync(out).mode & 0o777, 0o600);
});

test('real wg-quick brings the client config up and handshakes with a gateway set up from the gateway file', async () => {
  // Two namespaces joined by a veth: the gateway (wireguard-go, `wg setconf` with the file's wg part,
  // the tunnel address) and the laptop (`wg-quick up` of the client config, userspace fallback,
  // with a stand-in resolvconf that records what wg-quick hands it).
  const gwNs = new Netns('obgw');
  const lapNs = new Netns('oblap');
  try {
    const tag = String(process.pid % 100000);
    gwNs.link(lapNs, { ifname: `obg${tag}`, addrs: ['10.99.0.1/24'] }, { ifname: `obl${tag}`, addrs: ['10.99.0.2/24'] });
    const sub = mkdtempSync(join(dir, 'e2e-'));
    const file = join(sub, 'gw.conf');
    await initGateway(file, { ...BASE, endpoint: '10.99.0.1:51820' });
    const r = await addPeer(file, 'alice');
    const gwIf = `obw${tag}`;
    gwNs.exec('wireguard-go', [gwIf], { env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' } });
    const parsed = parseConfig(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error('gateway file does not parse');
    const setconf = join(sub, 'gw.setconf');
    writeFileSync(setconf, toWgSetconf(parsed.doc), { mode: 0o600 });
    gwNs.exec('wg', ['setconf', gwIf, setconf]);
    gwNs.exec('ip', ['address', 'add', '10.123.0.1/24', 'dev', gwIf]);
    gwNs.exec('ip', ['link', 'set', gwIf, 'up']);

    const lapIf = `obc${tag}`;
    const conf = join(sub, `${lapIf}.conf`);
    writeFileSync(conf, r.clientConfig, { mode: 0o600 });
    const stub = join(sub, 'bin');
    const log = join(sub, 'resolvconf.log');
    spawnSync('mkdir', [stub]);
    writeFileSync(join(stub, 'resolvconf'), `#!/bin/sh\necho "resolvconf $*" >> ${log}\ncat >> ${log}\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${stub}:${process.env.PATH ?? ''}`, WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' };
    lapNs.exec('wg-quick', ['up', conf], { env });
    try {
      lapNs.exec('ping', ['-c', '1', '-W', '3', '10.123.0.1']);
      const dump = lapNs.exec('wg', ['show', lapIf, 'dump']).trim().split('\n').map((l) => l.split('\t'));
      const client = parseText(r.clientConfig, conf);
      assert.is(dump[0][0], client.interface.privateKey);
      assert.is(dump[1][0], client.peers[0].publicKey);
      assert.is(dump[1][1], client.peers[0].presharedKey);
      assert.is(dump[1][2], '10.99.0.1:51820');
      assert.is(dump[1][3], '10.124.0.0/24,10.123.0.1/32');
      assert.ok(Number(dump[1][4]) > 0, 'a handshake happened');
      assert.is(dump[1][7], '25');
      const gwPeer = gwNs.exec('wg', ['show', gwIf, 'dump']).split('\n').find((l) => l.startsWith(r.publicKey)) ?? '';
      const [, , gwEndpoint, gwAllowed, gwHandshake] = gwPeer.split('\t');
      assert.match(gwEndpoint, /^10\.99\.0\.2:[0-9]+$/);
      assert.is(gwAllowed, '10.123.0.2/32');
      assert.ok(Number(gwHandshake) > 0, 'the gateway saw the handshake');
      const routes = lapNs.exec('ip', ['-4', 'route', 'show', 'dev', lapIf]);
      assert.match(routes, /10\.124\.0\.0\/24/);
      assert.match(routes, /10\.123\.0\.1/);
      assert.match(readFileSync(log, 'utf8'), new RegExp(`nameserver 10\\.123\\.0\\.1\\nsearch ${client.interface.dnsSearch[0]}\\n`));
      assert.equal(client.interface.dnsSearch, [basename(file).replace(/\.conf$/, '')], 'the project name is the domain');
    } finally {
      lapNs.exec('wg-quick', ['down', conf], { env });
    }
  } finally {
    lapNs.delete();
    gwNs.delete();
  }
});

test.run();
