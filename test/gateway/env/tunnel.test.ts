// Project variables over the tunnel, end to end in namespaces (issue 11, section 6). A gateway
// (`wgts up`, dual stack, [Env] with two env files and its own environment by prefix, metrics on
// loopback) between a project network (app; its host has a route back to the tunnel subnets) and
// an "internet" bridge with three laptops: alice, a STOCK laptop (wg-quick + wireguard-go) granted
// app_* and ci_TOKEN; bob, a wgts laptop granted db_*; carol, a wgts laptop without grants.
//
// Checked: each laptop gets exactly its grants through `wgts env` (evaluated by a real shell) and
// `wgts run` (exit status, death by signal, a signal passed on, nothing written to disk: strace);
// carol gets nothing; an env file edit is served without a reload and a broken one serves nothing
// (reported at FILE:LINE without its value); the project host, outside the tunnel subnets, gets
// no answer, even forging alice's tunnel address; carol configured with alice's tunnel address
// gets nothing and the gateway counts the drop (bad-source: the inner-source check); bob removed
// from the file gets nothing; the INPUT rule opens the port on the tunnel addresses only; no value
// ever appears in the gateway's log, its status file or its metrics.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportLines } from '../../../src/gateway/env/names.js';
import { ENV_PORT } from '../../../src/gateway/env/service.js';
import { statusPath } from '../../../src/gateway/status.js';
import { Netns, waitFor } from '../../helpers/netns.js';
import { stockLaptopUp, type StockLaptop } from '../../helpers/stock-laptop.js';
import { internetBridge } from '../../helpers/topology.js';
import { reloadedSince, startUp, statusOf, type UpProc, wgts, wgtsOk } from '../../helpers/up.js';
import { uniqueIfname, wgtsScript } from '../../helpers/wg.js';

const work = mkdtempSync(join(tmpdir(), 'wgts-envtun-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const gwIf = uniqueIfname('ge');
const aIf = uniqueIfname('ea');
const bIf = uniqueIfname('eb');
const cIf = uniqueIfname('ec');
const conf = (ifname: string): string => join(work, `${ifname}.conf`);
const gwFile = conf(gwIf);
const METRICS = '127.0.0.1:9598';

// The secrets: every one is searched for in the logs at the end.
const TOKEN = "tok-'quoted' \"dq\" $HOME `x` \\ end\nsecond line";
const TOKEN2 = 'rotated-token-2b7e';
const DB_PW = 'db-pass-91c4';
const CI = 'ci-secret-0d5a';
const BROKEN = 'broken-secret-77aa';
const SECRETS = [TOKEN, TOKEN.split('\n')[0] as string, TOKEN2, DB_PW, CI, BROKEN];

let gw: Netns;
let proj: Netns;
let lapA: Netns;
let lapB: Netns;
let lapC: Netns;
let stock: StockLaptop | null = null;
let gwProc: UpProc;
const procs: UpProc[] = [];
/** Everything the laptops printed on stderr (searched for values at the end). */
let laptopStderr = '';

const appEnv = (token: string): string => `# the app service\nAPI_TOKEN="${token.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$')}"\nURL=http://app:3000\n`;

/** `wgts env FILE [...]` in `ns`. */
function env(ns: Netns, file: string, ...more: string[]): { status: number; stdout: string; stderr: string } {
  const r = wgts(['env', file, ...more], ns);
  laptopStderr += r.stderr;
  return r;
}

/** `wgts run FILE -- ARGS` in `ns` (optionally under strace). */
function run(ns: Netns, file: string, args: string[], prefix: string[] = []): { status: number; stdout: string; stderr: string } {
  const [cmd, ...rest] = [...prefix, process.execPath, wgtsScript, 'run', file, '--', ...args];
  const r = ns.tryExec(cmd as string, rest, { timeoutMs: 20_000 });
  laptopStderr += r.stderr;
  return r;
}

function scrape(): string {
  return gw.exec('curl', ['-sS', '-m', '5', `http://${METRICS}/metrics`]);
}

/** The value of one metric line (`name{labels} value`) whose text contains every part of `parts`. */
function metric(text: string, name: string, ...parts: string[]): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && parts.every((p) => l.includes(p)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const drops = (reason: string): number => statusOf(gwIf).drops?.[reason] ?? 0;

/** Waits until the gateway's output matches `re` (it is read while the test yields). */
async function logged(re: RegExp): Promise<void> {
  await waitFor(() => re.test(gwProc.out()), 10_000, 50, `gateway log ${re}`);
}

test('setup: a gateway with [Env] (two env files, its own environment), three laptops, a project host', async () => {
  gw = new Netns('gw');
  proj = new Netns('proj');
  lapA = new Netns('lapA');
  lapB = new Netns('lapB');
  lapC = new Netns('lapC');
  gw.link(proj, { ifname: 'proj0', addrs: ['10.124.0.1/24'] }, { ifname: 'eth0', addrs: ['10.124.0.10/24'] });
  proj.exec('ip', ['route', 'add', '10.123.0.0/24', 'via', '10.124.0.1']);
  internetBridge(gw, [lapA, lapB, lapC], 've');

  writeFileSync(join(work, 'app.env'), appEnv(TOKEN), { mode: 0o600 });
  writeFileSync(join(work, 'db.env'), `PASSWORD=${DB_PW}\nHOST=10.124.0.11\n`, { mode: 0o600 });
  wgtsOk(['gateway', 'init', gwFile, '--address', '10.123.0.1/24', '--address', 'fd00:123::1/64', '--network', '10.124.0.0/24',
    '--endpoint', '10.200.0.1:51820', '--host', 'app=10.124.0.10']);
  const text = readFileSync(gwFile, 'utf8').replace('[Gateway]\n', `[Gateway]\nMetrics = ${METRICS}\n`);
  writeFileSync(gwFile, `${text}\n[Env]\nSource = app:app.env\nSource = db:${join(work, 'db.env')}\nSource = env:ci_\n`);
  wgtsOk(['peer', 'add', gwFile, 'alice', '--env', 'app_*', '--env', 'ci_TOKEN', '--out', conf(aIf)]);
  wgtsOk(['peer', 'add', gwFile, 'bob', '--env', 'db_*', '--out', conf(bIf)]);
  wgtsOk(['peer', 'add', gwFile, 'carol', '--out', conf(cIf)]);
  assert.match(wgtsOk(['peer', 'list', gwFile]), /^alice .* app_\*, ci_TOKEN$/m);

  gwProc = await startUp(gw, gwFile, gwIf, procs, { ci_TOKEN: CI, ci_OTHER: 'not granted to anyone' });
  stock = stockLaptopUp(lapA, conf(aIf));
  await startUp(lapB, conf(bIf), bIf, procs);
  await startUp(lapC, conf(cIf), cIf, procs);
  assert.match(gwProc.out(), /variables on http:\/\/10\.123\.0\.1:5380\/v1\/env, http:\/\/\[fd00:123::1\]:5380\/v1\/env, for peers inside 10\.123\.0\.0\/24, fd00:123::\/64/);
});

test('the host firewall opens the port on the tunnel interface and addresses only (INPUT, both families)', () => {
  const v4 = gw.exec('iptables', ['-S', 'INPUT']);
  const v6 = gw.exec('ip6tables', ['-S', 'INPUT']);
  const rule = (addr: string): RegExp => new RegExp(`^-A INPUT -d ${addr.replace(/[.]/g, '\\.')} -i ${gwIf} -p tcp -m tcp --dport ${ENV_PORT} -m comment --comment "wgts:${gwIf}:\\d+" -j ACCEPT$`, 'm');
  assert.match(v4, rule('10.123.0.1/32'));
  assert.match(v6, rule('fd00:123::1/128'));
  assert.is(v4.split('\n').filter((l) => l.includes(`--dport ${ENV_PORT}`)).length, 1);
});

test('the stock laptop (wg-quick + wireguard-go) reads exactly its grants: wgts env, evaluated by sh', async () => {
  const r = env(lapA, conf(aIf));
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, exportLines(new Map([['app_API_TOKEN', TOKEN], ['app_URL', 'http://app:3000'], ['ci_TOKEN', CI]])));
  assert.not.match(r.stderr, 'wgts:', 'nothing to say');
  const shell = lapA.tryExec('sh', ['-c', `eval "$('${process.execPath}' '${wgtsScript}' env '${conf(aIf)}')" && printf '%s\\0' "$app_API_TOKEN" "$ci_TOKEN" "\${db_PASSWORD-unset}" "\${ci_OTHER-unset}"`]);
  assert.is(shell.status, 0, shell.stderr);
  assert.equal(shell.stdout.split('\0').slice(0, 4), [TOKEN, CI, 'unset', 'unset'], 'app_* does not give db_*; ci_TOKEN does not give ci_OTHER');
  assert.equal(JSON.parse(env(lapA, conf(aIf), '--json').stdout), { app_API_TOKEN: TOKEN, app_URL: 'http://app:3000', ci_TOKEN: CI });
  await logged(/peer alice read 3 variables\n/);
});

test('wgts run: the variables in the command\'s environment, its exit status, its death by signal, a signal passed on, nothing written to disk', async () => {
  const got = run(lapA, conf(aIf), ['sh', '-c', 'printf %s "$app_API_TOKEN"']);
  assert.is(got.status, 0, got.stderr);
  assert.is(got.stdout, TOKEN);
  assert.is(run(lapA, conf(aIf), ['sh', '-c', 'exit 7']).status, 7);
  const killed = run(lapA, conf(aIf), ['sh', '-c', 'kill -USR1 $$']);
  assert.match(killed.stderr, /killed by SIGUSR1/, 'wgts dies of the signal that killed the command');
  const missing = run(lapA, conf(aIf), ['no-such-command-xyz']);
  assert.is(missing.status, 127);
  assert.match(missing.stderr, /wgts: no-such-command-xyz: command not found/);

  // SIGTERM to wgts reaches the command, whose own exit status comes back.
  const child = lapA.spawn(process.execPath, [wgtsScript, 'run', conf(aIf), '--', 'sh', '-c', 'trap "exit 9" TERM; echo ready; while :; do sleep 0.1; done']);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(() => out.includes('ready'), 10_000, 25, 'the command to start');
  child.kill('SIGTERM');
  assert.is(await exited, 9);

  // Under strace: no file is created, written, renamed, truncated or removed by wgts or the command.
  const log = join(work, 'strace.log');
  const traced = run(lapA, conf(aIf), ['printenv', 'app_URL'], ['strace', '-f', '-qq', '-o', log, '-e', 'trace=open,openat,creat,rename,renameat,renameat2,unlink,unlinkat,truncate,ftruncate,mkdir,mkdirat,link,linkat,symlink,symlinkat']);
  assert.is(traced.status, 0, traced.stderr);
  assert.is(traced.stdout, 'http://app:3000\n');
  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.ok(calls.some((l) => l.includes('openat(')), 'strace saw the file opens');
  const writes = calls.filter((l) => /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|creat\(|rename|unlink|truncate|mkdir|link\(|symlink/.test(l) && !/"\/dev\/(null|tty|pts\/\d+)"/.test(l));
  assert.equal(writes, [], 'nothing written to disk');
});

test('bob (a wgts laptop) reads db_* only; carol, without grants, gets nothing and is told why', async () => {
  const b = env(lapB, conf(bIf));
  assert.is(b.status, 0, b.stderr);
  assert.is(b.stdout, exportLines(new Map([['db_HOST', '10.124.0.11'], ['db_PASSWORD', DB_PW]])));
  const bRun = run(lapB, conf(bIf), ['sh', '-c', 'printf %s "$db_PASSWORD" "${app_API_TOKEN-}"']);
  assert.is(bRun.status, 0, bRun.stderr);
  assert.is(bRun.stdout, DB_PW, 'wgts run from a wgts laptop: its grants only');
  const c = env(lapC, conf(cIf));
  assert.is(c.status, 0, c.stderr);
  assert.is(c.stdout, '');
  assert.is(c.stderr, 'wgts: the gateway grants carol no variables (Env = lines in its [Peer] of the gateway config)\n');
  await logged(/peer bob read 2 variables\n[\s\S]*peer bob read 2 variables\n[\s\S]*peer carol read 0 variables\n/);
  const m = scrape();
  assert.is(metric(m, 'wgts_env_reads_total', 'name="carol"'), 1);
  assert.is(metric(m, 'wgts_env_variables_read_total', 'name="bob"'), 4);
  assert.ok(metric(m, 'wgts_env_reads_total', 'name="alice"') >= 5);
});

test('a grant added to the gateway file applies live; taken away, it is gone at once', async () => {
  let t0 = Date.now();
  writeFileSync(gwFile, readFileSync(gwFile, 'utf8').replace('Name = carol\n', 'Name = carol\nEnv = db_HOST\n'));
  await reloadedSince(gwIf, t0, true);
  assert.is(env(lapC, conf(cIf)).stdout, exportLines(new Map([['db_HOST', '10.124.0.11']])));
  t0 = Date.now();
  writeFileSync(gwFile, readFileSync(gwFile, 'utf8').replace('Env = db_HOST\n', ''));
  await reloadedSince(gwIf, t0, true);
  assert.is(env(lapC, conf(cIf)).stdout, '');
});

test('an edited env file is served without a reload; a broken one serves nothing, reported at FILE:LINE without its value', async () => {
  writeFileSync(join(work, 'app.env'), appEnv(TOKEN2), { mode: 0o600 });
  const fresh = await waitFor(() => {
    const r = env(lapA, conf(aIf), '--json');
    return r.status === 0 && (JSON.parse(r.stdout) as Record<string, string>).app_API_TOKEN === TOKEN2 ? r : null;
  }, 5000, 300, 'the new token');
  assert.ok(fresh);
  writeFileSync(join(work, 'app.env'), `URL=http://app:3000\nAPI_TOKEN='${BROKEN}\n`, { mode: 0o600 });
  const partial = await waitFor(() => {
    const r = env(lapA, conf(aIf), '--json');
    return r.status === 0 && !r.stdout.includes('app_') ? r : null;
  }, 5000, 300, 'the broken file to serve nothing');
  assert.equal(JSON.parse(partial?.stdout ?? ""), { ci_TOKEN: CI });
  assert.match(partial?.stderr ?? "", /warning: the gateway cannot read the variables of app right now \(its log says why\): they are missing/);
  await logged(new RegExp(`variables: ${join(work, 'app.env').replace(/[.]/g, '\\.')}:2: the single-quoted value of API_TOKEN is not closed`));
  writeFileSync(join(work, 'app.env'), appEnv(TOKEN), { mode: 0o600 });
  await waitFor(() => env(lapA, conf(aIf), '--json').stdout.includes('app_API_TOKEN'), 5000, 300, 'the fixed file');
});

test('the project host (outside the tunnel subnets) gets no answer, even forging alice\'s tunnel address', async () => {
  const before = metric(scrape(), 'wgts_env_refused_total', 'reason="source-not-allowed"');
  const direct = proj.tryExec('curl', ['-sS', '-m', '3', `http://10.123.0.1:${ENV_PORT}/v1/env`]);
  assert.ok(direct.status !== 0, 'no answer');
  assert.is(direct.stdout, '');
  assert.is(metric(scrape(), 'wgts_env_refused_total', 'reason="source-not-allowed"'), before + 1, 'closed unanswered and counted');
  // Forged: alice's tunnel address on the project host. The gateway's answer goes into the tunnel
  // toward alice, where no flow of hers expects it: refused there, and the forger gets nothing.
  proj.exec('ip', ['addr', 'add', '10.123.0.2/32', 'dev', 'lo']);
  const aliceKey = (JSON.parse(wgtsOk(['peer', 'list', gwFile, '--json'])) as { name: string; publicKey: string }[]).find((p) => p.name === 'alice')?.publicKey ?? '';
  const refusedBefore = statusOf(gwIf).peers[aliceKey]?.refused ?? 0;
  const forged = proj.tryExec('curl', ['-sS', '-m', '3', '--interface', '10.123.0.2', `http://10.123.0.1:${ENV_PORT}/v1/env`]);
  assert.ok(forged.status !== 0, 'no answer to a forged source');
  assert.is(forged.stdout, '');
  await waitFor(() => (statusOf(gwIf).peers[aliceKey]?.refused ?? 0) > refusedBefore, 10_000, 100, 'the answer refused on its way to alice');
  // Worse: a route on the gateway host sends alice's address to the project side (a container
  // network overlapping the tunnel subnet), so the forger's TCP connection completes. The address
  // is alice's in the AllowedIPs, but the data path never saw the connection come from her: the
  // flow-table check refuses it.
  gw.exec('ip', ['route', 'add', '10.123.0.2/32', 'via', '10.124.0.10', 'dev', 'proj0']);
  try {
    const notTunnel = metric(scrape(), 'wgts_env_refused_total', 'reason="not-through-tunnel"');
    const completed = proj.tryExec('curl', ['-sS', '-m', '3', '--interface', '10.123.0.2', `http://10.123.0.1:${ENV_PORT}/v1/env`]);
    assert.is(completed.status, 0, completed.stderr);
    assert.equal(JSON.parse(completed.stdout), { error: 'not through the tunnel' }, 'an answer, without variables');
    assert.is(metric(scrape(), 'wgts_env_refused_total', 'reason="not-through-tunnel"'), notTunnel + 1);
  } finally {
    gw.exec('ip', ['route', 'del', '10.123.0.2/32', 'via', '10.124.0.10', 'dev', 'proj0']);
    proj.exec('ip', ['addr', 'del', '10.123.0.2/32', 'dev', 'lo']);
  }
});

test('carol configured with alice\'s tunnel address gets nothing: dropped by the inner-source check, counted', async () => {
  wgtsOk(['down', cIf], lapC);
  const original = readFileSync(conf(cIf), 'utf8');
  writeFileSync(conf(cIf), original.replace(/^Address = .*$/m, 'Address = 10.123.0.2/32'), { mode: 0o600 });
  await startUp(lapC, conf(cIf), cIf, procs);
  const before = drops('bad-source');
  const served = metric(scrape(), 'wgts_env_reads_total', 'name="alice"');
  const r = env(lapC, conf(cIf));
  assert.is(r.status, 1);
  assert.is(r.stdout, '', 'no variables');
  assert.match(r.stderr, /no answer from the gateway's variables service at 10\.123\.0\.1:5380 within 5 s/);
  assert.ok(drops('bad-source') > before, 'the gateway dropped and counted the spoofed packets (bad-source)');
  const m = scrape();
  assert.ok(metric(m, 'wgts_drops_total', 'reason="bad-source"') > before);
  assert.is(metric(m, 'wgts_env_reads_total', 'name="alice"'), served, 'nothing was served as alice');
  wgtsOk(['down', cIf], lapC);
  writeFileSync(conf(cIf), original, { mode: 0o600 });
});

test('bob removed from the file gets nothing', () => {
  assert.match(wgtsOk(['peer', 'remove', gwFile, 'bob']), /cut bob off/);
  const r = env(lapB, conf(bIf));
  assert.is(r.status, 1);
  assert.is(r.stdout, '');
  assert.match(r.stderr, /no answer from the gateway's variables service/);
  const failed = run(lapB, conf(bIf), ['true']);
  assert.is(failed.status, 125, 'wgts run fails as env(1) does, without running the command');
});

test('with the tunnel down: a clear error, nothing sent', () => {
  stock?.down();
  const r = env(lapA, conf(aIf));
  assert.is(r.status, 1);
  assert.match(r.stderr, new RegExp(`wgts: (the tunnel ${aIf} is not up|no route to the gateway's tunnel address 10\\.123\\.0\\.1)`));
  assert.is(run(lapA, conf(aIf), ['true']).status, 125);
});

test('no value ever appears in the gateway\'s log, status file or metrics, nor in the laptops\' messages', () => {
  const where: [string, string][] = [['log', gwProc.out()], ['status', readFileSync(statusPath(gwIf), 'utf8')], ['metrics', scrape()], ['laptop stderr', laptopStderr]];
  for (const [what, text] of where) {
    assert.ok(text.length > 0, what);
    for (const s of SECRETS) assert.not.ok(text.includes(s), `${what} holds a value`);
  }
});

test('cleanup', () => {
  stock?.down();
  for (const p of procs) if (p.exit() === null) p.kill('SIGTERM');
});

test.run();
