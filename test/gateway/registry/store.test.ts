// The registry as a store (issue 12): a one-member etcd started by the test in a namespace (on its
// loopback), every command run there. The same command script against a file and against the
// registry prints the same thing (keys, times and the location normalized); a state in etcd that
// does not parse is refused with URL/KEY:LINE; concurrent `peer add`s from two processes all land,
// with distinct addresses; migrate moves a file's gateway and refuses a PREFIX in use.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Netns, sh } from '../../helpers/netns.js';
import { startEtcd, type TestEtcd } from '../../helpers/etcd.js';
import { wgts, wgtsOk } from '../../helpers/up.js';
import { wgtsScript } from '../../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-regstore-'));
let ns: Netns;
let etcd: TestEtcd;

interface Listed { name: string; address: string | null; publicKey: string; state: string }

/** Output with what legitimately differs between runs and locations replaced. */
function normalize(text: string, location: string): string {
  return text
    .replace(/ \(on this host; gateways on other hosts apply it from their etcd watch\)/g, '')
    .split(location).join('LOCATION')
    .replace(/[A-Za-z0-9+/]{43}=/g, 'KEY')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d/g, 'TIME')
    .replace(/\(\d+ ms\)/g, '(N ms)');
}

const INIT = ['--name', 'shop', '--address', '10.123.0.1/24', '--network', '10.124.0.0/24', '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10'];

/** The command script both stores run; L stands for the location. */
const SCRIPT: string[][] = [
  ['gateway', 'init', 'L', ...INIT],
  ['gateway', 'init', 'L', ...INIT],
  ['peer', 'add', 'L', 'alice'],
  ['peer', 'add', 'L', 'bob', '--allow', '10.124.0.10:3000/tcp', '--allow-inbound', '22/tcp', '--expires', '2099-01-01'],
  ['peer', 'add', 'L', 'Alice'],
  ['peer', 'add', 'L', 'eve', '--allow', '10.99.0.0/24'],
  ['peer', 'add', 'L', 'carol', '--env', 'app_*'],
  ['peer', 'list', 'L'],
  ['peer', 'list', 'L', '--json'],
  ['peer', 'disable', 'L', 'bob'],
  ['peer', 'disable', 'L', 'bob'],
  ['peer', 'enable', 'L', 'bob'],
  ['peer', 'set', 'L', 'bob', '--expires', 'never'],
  ['peer', 'rekey', 'L', 'alice'],
  ['peer', 'config', 'L', 'alice'],
  ['gateway', 'host', 'add', 'L', 'db=10.124.0.20'],
  ['gateway', 'host', 'add', 'L', 'db=10.99.0.20'],
  ['gateway', 'host', 'remove', 'L', 'db'],
  ['gateway', 'set', 'L', '--endpoint', 'vpn.example.com:51820'],
  ['gateway', 'set', 'L', '--network', '10.99.0.0/24'],
  ['peer', 'remove', 'L', 'bob'],
  ['peer', 'remove', 'L', 'nobody'],
  ['peer', 'list', 'L'],
];

test('setup: a one-member etcd in a namespace', async () => {
  ns = new Netns('regst');
  etcd = await startEtcd(ns, '127.0.0.1', 23790);
});

/** `wgts ARGS` in `ns`, without blocking (the two scripts run side by side). */
function wgtsAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const c = ns.spawn(process.execPath, [wgtsScript, ...args]);
  let stdout = '';
  let stderr = '';
  c.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  c.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((res) => c.on('exit', (code) => res({ status: code ?? -1, stdout, stderr })));
}

test('every gateway / peer command prints the same against a registry as against a file', async () => {
  const file = join(work, 'shop.conf');
  const url = etcd.url('wgts/shop');
  const run = async (loc: string): Promise<string[]> => {
    const outs: string[] = [];
    for (const cmd of SCRIPT) {
      const r = await wgtsAsync(cmd.map((a) => (a === 'L' ? loc : a)));
      outs.push(normalize(`$ wgts ${cmd.join(' ')}\nexit ${r.status}\n${r.stdout}${r.stderr}`, loc));
    }
    return outs;
  };
  const [fromFile, fromRegistry] = await Promise.all([run(file), run(url)]);
  fromFile.forEach((out, i) => assert.fixture(fromRegistry[i] ?? '', out));
  // The script did what it says (not two equal failures): peers and outputs as expected.
  assert.match(fromRegistry[2] ?? '', /exit 0\n# wgts project shop: laptop alice\./);
  assert.match(fromRegistry[1] ?? '', /exit 1\nwgts: LOCATION already exists; use --force/);
  assert.match(fromRegistry[4] ?? '', /already has a peer named 'Alice'/);

  const listed = JSON.parse(wgtsOk(['peer', 'list', url, '--json'], ns)) as Listed[];
  assert.equal(listed.map((p) => [p.name, p.address]), [['alice', '10.123.0.2'], ['carol', '10.123.0.4']]);
});

test('the registry is laid out as documented: one key per peer, indexes, the private key alone', () => {
  const keys = etcd.ctl(['get', '/wgts/shop/', '--prefix', '--keys-only']).split('\n').filter(Boolean);
  assert.equal(keys.filter((k) => !k.startsWith('/wgts/shop/keys/')).sort(), [
    '/wgts/shop/addresses/10.123.0.2_32', '/wgts/shop/addresses/10.123.0.4_32', '/wgts/shop/format', '/wgts/shop/identity',
    '/wgts/shop/last-edit', '/wgts/shop/peers/alice', '/wgts/shop/peers/carol', '/wgts/shop/settings',
  ]);
  for (const k of keys.filter((x) => x.startsWith('/wgts/shop/keys/'))) assert.match(k, /^\/wgts\/shop\/keys\/[A-Za-z0-9_-]{43}$/);
  assert.is(keys.filter((k) => k.startsWith('/wgts/shop/keys/')).length, 2);
  const settings = etcd.ctl(['get', '/wgts/shop/settings', '--print-value-only']);
  assert.match(settings, /^\[Interface\]\nListenPort = 51820\nAddress = 10\.123\.0\.1\/24\n\n\[Gateway\]\nName = shop\n/);
  assert.not.match(settings, /PrivateKey/);
  assert.match(etcd.ctl(['get', '/wgts/shop/identity', '--print-value-only']), /^[A-Za-z0-9+/]{43}=\n/);
  assert.match(etcd.ctl(['get', '/wgts/shop/peers/carol', '--print-value-only']), /^\[Peer\]\nName = carol\nPublicKey = \S+\nPresharedKey = \S+\nAllowedIPs = 10\.123\.0\.4\/32\n/);
});

test('a state in etcd that does not check is refused, naming the key and line; nothing is changed', () => {
  const url = etcd.url('wgts/shop');
  const before = etcd.ctl(['get', '/wgts/shop/', '--prefix', '-w', 'json']);
  etcd.ctl(['put', '/wgts/shop/peers/zed', '[Peer]\nName = zed\nPublicKey = not-a-key\nAllowedIPs = 10.123.0.9/32\n']);
  const r = wgts(['peer', 'add', url, 'dave'], ns);
  assert.is(r.status, 1);
  assert.match(r.stderr, new RegExp(`wgts: ${url.replace(/[./]/g, '\\$&')}/peers/zed:3: `));
  const l = wgts(['peer', 'list', url], ns);
  assert.is(l.status, 1);
  assert.match(l.stderr, /peers\/zed:3:/);
  etcd.ctl(['del', '/wgts/shop/peers/zed']);
  assert.not.match(etcd.ctl(['get', '/wgts/shop/peers/', '--prefix', '--keys-only']), /dave/);
  assert.ok(before.length > 0);
  assert.is(wgts(['peer', 'list', url], ns).status, 0);
});

test('2 processes x 12 concurrent peer adds: every one lands, every address distinct', () => {
  const url = etcd.url('wgts/race');
  wgtsOk(['gateway', 'init', url, ...INIT], ns);
  const n = 12;
  const script = join(work, 'adds.mjs');
  const onboard = join(process.cwd(), 'dist/src/gateway/onboard.js');
  writeFileSync(script, `import { addPeer } from ${JSON.stringify(onboard)};
const [url, tag, n] = process.argv.slice(2);
const rs = await Promise.allSettled(Array.from({ length: Number(n) }, (_, i) => addPeer(url, tag + i)));
const bad = rs.filter((r) => r.status === 'rejected');
for (const b of bad) console.error(String(b.reason));
console.log(JSON.stringify(rs.flatMap((r) => r.status === 'fulfilled' ? [r.value.address] : [])));
process.exit(bad.length ? 1 : 0);
`);
  const a = ns.spawn(process.execPath, [script, url, 'a', String(n)]);
  const b = ns.spawn(process.execPath, [script, url, 'b', String(n)]);
  const outs = [a, b].map((c) => new Promise<{ code: number; out: string }>((res) => {
    let out = '';
    c.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    c.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('exit', (code) => res({ code: code ?? -1, out }));
  }));
  return Promise.all(outs).then((rs) => {
    for (const r of rs) assert.is(r.code, 0, r.out);
    const listed = JSON.parse(wgtsOk(['peer', 'list', url, '--json'], ns)) as Listed[];
    assert.is(listed.length, 2 * n);
    const names = listed.map((p) => p.name).sort();
    assert.equal(names, [...Array.from({ length: n }, (_, i) => `a${i}`), ...Array.from({ length: n }, (_, i) => `b${i}`)].sort());
    const addresses = new Set(listed.map((p) => p.address));
    assert.is(addresses.size, 2 * n, 'distinct tunnel addresses');
    const reported = rs.flatMap((r) => JSON.parse(r.out.trim().split('\n').pop() ?? '[]') as string[]);
    assert.equal(reported.sort(), [...addresses].sort() as string[], 'each process was told the address that stuck');
  });
});

test('migrate: a file gateway with peers into a registry (same peers, same key); a PREFIX in use is refused unless --force', () => {
  const file = join(work, 'mig.conf');
  wgtsOk(['gateway', 'init', file, ...INIT], ns);
  wgtsOk(['peer', 'add', file, 'p1'], ns);
  wgtsOk(['peer', 'add', file, 'p2', '--allow', '10.124.0.10:3000/tcp'], ns);
  wgtsOk(['peer', 'disable', file, 'p2'], ns);
  const url = etcd.url('wgts/mig');
  const out = wgtsOk(['gateway', 'migrate', file, url], ns);
  assert.match(out, new RegExp(`^migrated ${file} to ${url.replace(/[./]/g, '\\$&')}: project shop, 2 peer\\(s\\), public key [A-Za-z0-9+/]{43}=\\n`));
  assert.fixture(normalize(wgtsOk(['peer', 'list', url], ns), url), normalize(wgtsOk(['peer', 'list', file], ns), file));
  const fileKey = /PrivateKey = (\S+)/.exec(readFileSync(file, 'utf8'))?.[1];
  assert.is(etcd.ctl(['get', '/wgts/mig/identity', '--print-value-only']).trim(), fileKey);
  const again = wgts(['gateway', 'migrate', file, url], ns);
  assert.is(again.status, 1);
  assert.match(again.stderr, /already exists; use --force/);
  assert.is(wgts(['gateway', 'migrate', file, url, '--force'], ns).status, 0);
  // Status files are per host: a command says it sees no gateway here, and why that is not all.
  const removed = wgtsOk(['peer', 'remove', url, 'p1'], ns);
  assert.match(removed, /^no running gateway uses \S+: nothing to cut off \(.*\) \(on this host; gateways on other hosts apply it from their etcd watch\)$/m);
  // init --registry URL is the other spelling of init URL.
  const r = wgts(['gateway', 'init', '--registry', etcd.url('wgts/other'), ...INIT], ns);
  assert.is(r.status, 0, r.stderr);
  assert.match(wgtsOk(['peer', 'list', etcd.url('wgts/other')], ns), /^no peers in /);
});

test('an unreachable registry: a clear error within seconds, nothing hangs', () => {
  const t0 = Date.now();
  const r = wgts(['peer', 'list', 'etcd://127.0.0.1:1/wgts/shop'], ns);
  assert.is(r.status, 1);
  assert.match(r.stderr, /^wgts: etcd:\/\/127\.0\.0\.1:1\/wgts\/shop: the registry is unreachable/);
  assert.ok(Date.now() - t0 < 15_000);
  const bad = wgts(['peer', 'list', 'etcd://127.0.0.1:2379'], ns);
  assert.match(bad.stderr, /no PREFIX/);
  const pw = wgts(['peer', 'list', 'etcd://u:secret@127.0.0.1:2379/x'], ns);
  assert.match(pw.stderr, /a password does not go into the URL/);
  assert.not.match(pw.stderr, /secret/);
});

test('etcd auth: a user with a role on its PREFIX, the password from the environment (or a file), never printed', () => {
  const root = ['--user', 'root:rootpw'];
  etcd.ctl(['user', 'add', 'root:rootpw']);
  etcd.ctl(['user', 'add', 'gw:gw-secret-pw']);
  etcd.ctl(['role', 'add', 'gwrole']);
  etcd.ctl(['role', 'grant-permission', 'gwrole', 'readwrite', '/wgts/auth/', '--prefix=true']);
  etcd.ctl(['user', 'grant-role', 'gw', 'gwrole']);
  etcd.ctl(['auth', 'enable']);
  try {
    const url = etcd.url('wgts/auth');
    const as = (env: NodeJS.ProcessEnv, args: string[]): { status: number; stdout: string; stderr: string } =>
      ns.tryExec(process.execPath, [wgtsScript, ...args], { env: { ...process.env, ...env }, timeoutMs: 20_000 });
    const creds = { WGTS_REGISTRY_USER: 'gw', WGTS_REGISTRY_PASSWORD: 'gw-secret-pw' };
    const init = as(creds, ['gateway', 'init', url, ...INIT]);
    assert.is(init.status, 0, init.stderr);
    const pwFile = join(work, 'pw');
    writeFileSync(pwFile, 'gw-secret-pw\n', { mode: 0o600 });
    assert.is(as({ WGTS_REGISTRY_PASSWORD_FILE: pwFile }, ['peer', 'add', `etcd://gw@${etcd.endpoint}/wgts/auth`, 'alice']).status, 0, 'USER@ in the URL, the password from a file');
    assert.match(as(creds, ['peer', 'list', url]).stdout, /^alice\s+10\.123\.0\.2\s/m);
    const none = as({}, ['peer', 'list', url]);
    assert.is(none.status, 1);
    assert.match(none.stderr, /^wgts: etcd:\/\/\S+: .*(user name is empty|permission denied)/im);
    const wrong = as({ WGTS_REGISTRY_USER: 'gw', WGTS_REGISTRY_PASSWORD: 'not-it' }, ['peer', 'list', url]);
    assert.is(wrong.status, 1);
    assert.match(wrong.stderr, /authentication failed/i);
    const other = as(creds, ['peer', 'list', etcd.url('wgts/shop')]);
    assert.is(other.status, 1);
    assert.match(other.stderr, /permission denied/i, 'the role reaches its PREFIX only');
    for (const r of [init, none, wrong, other]) assert.not.match(r.stdout + r.stderr, /gw-secret-pw|not-it/);
  } finally {
    etcd.ctl([...root, 'auth', 'disable']);
  }
});

test('TLS with client certificates: WGTS_REGISTRY_CA / _CERT / _KEY; without them the member is not reached', async () => {
  const pki = join(work, 'pki');
  mkdirSync(pki);
  const ssl = (sub: string, args: string[]): string => sh('openssl', [sub, ...args], { timeoutMs: 20_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', ['-x509', ...ec, '-keyout', join(pki, 'ca.key'), '-out', join(pki, 'ca.pem'), '-days', '1', '-subj', '/CN=wgts-test-ca']);
  writeFileSync(join(pki, 'ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  for (const name of ['etcd', 'gw']) {
    ssl('req', [...ec, '-keyout', join(pki, `${name}.key`), '-out', join(pki, `${name}.csr`), '-subj', `/CN=${name}`]);
    ssl('x509', ['-req', '-in', join(pki, `${name}.csr`), '-CA', join(pki, 'ca.pem'), '-CAkey', join(pki, 'ca.key'), '-CAcreateserial',
      '-out', join(pki, `${name}.pem`), '-days', '1', '-extfile', join(pki, 'ext')]);
  }
  const secure = await startEtcd(ns, '127.0.0.1', 23797, { tls: { cert: join(pki, 'etcd.pem'), key: join(pki, 'etcd.key'), ca: join(pki, 'ca.pem'), clientCertAuth: true } });
  try {
    const url = secure.url('wgts/tls');
    const as = (env: NodeJS.ProcessEnv, args: string[]): { status: number; stdout: string; stderr: string } =>
      ns.tryExec(process.execPath, [wgtsScript, ...args], { env: { ...process.env, ...env }, timeoutMs: 20_000 });
    const full = { WGTS_REGISTRY_CA: join(pki, 'ca.pem'), WGTS_REGISTRY_CERT: join(pki, 'gw.pem'), WGTS_REGISTRY_KEY: join(pki, 'gw.key') };
    const init = as(full, ['gateway', 'init', url, ...INIT]);
    assert.is(init.status, 0, init.stderr);
    assert.is(as(full, ['peer', 'add', url, 'alice']).status, 0);
    assert.match(as(full, ['peer', 'list', url]).stdout, /^alice\s+10\.123\.0\.2\s/m);
    assert.match(secure.ctl(['get', '/wgts/tls/peers/alice', '--print-value-only']), /^\[Peer\]\nName = alice\n/);
    const plain = as({}, ['peer', 'list', url]);
    assert.is(plain.status, 1, 'plain text to a TLS member');
    assert.match(plain.stderr, /^wgts: etcd:\/\/127\.0\.0\.1:23797\/wgts\/tls: /);
    const noCert = as({ WGTS_REGISTRY_CA: join(pki, 'ca.pem') }, ['peer', 'list', url]);
    assert.is(noCert.status, 1, 'no client certificate where the member asks for one');
    const halfPair = as({ WGTS_REGISTRY_CA: join(pki, 'ca.pem'), WGTS_REGISTRY_CERT: join(pki, 'gw.pem') }, ['peer', 'list', url]);
    assert.match(halfPair.stderr, /WGTS_REGISTRY_CERT and WGTS_REGISTRY_KEY go together/);
  } finally {
    await secure.remove();
  }
});

test('teardown', async () => {
  await etcd.remove();
  ns.delete();
  rmSync(work, { recursive: true, force: true });
});

test.run();
