// The bootstrap's system prerequisites (scripts/prereqs.mjs): the decision whether to install with
// apt-get or to stop and name the packages, the package table, and a scan of the sources that
// keeps the table complete: every program the tests, the runtime, the lab and the benchmarks run
// must be listed for the command that runs it, so a new tool cannot be forgotten.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LAB_PROGRAMS } from '../../src/gateway/lab.js';
import { repoRoot } from '../helpers/vectors.js';

type Command = 'test' | 'lab' | 'bench' | 'fuzz' | 'soak';
type Decision =
  | { action: 'none' }
  | { action: 'install'; packages: string[]; update: boolean; args: string[]; command: string }
  | { action: 'stop'; packages: string[]; reason: string; message: string };
interface DecideInput { what: string; missing: string[]; root: boolean; family: string; noApt: boolean; hasApt: boolean; listsAgeMs: number | null }
interface Prereqs {
  PACKAGES: Record<string, string>;
  NEEDS: Record<Command, string[]>;
  LISTS_MAX_AGE_MS: number;
  packagesFor(programs: string[]): string[];
  distroFamily(osRelease: string): string;
  decide(input: DecideInput): Decision;
  aptListsAge(dir?: string, now?: number): number | null;
}

const root = repoRoot();
const p = (await import(pathToFileURL(join(root, 'scripts', 'prereqs.mjs')).href)) as Prereqs;

const base: DecideInput = { what: 'test', missing: ['wg', 'wg-quick', 'iperf3'], root: true, family: 'debian', noApt: false, hasApt: true, listsAgeMs: 3600_000 };

test('nothing missing: nothing to do', () => {
  assert.equal(p.decide({ ...base, missing: [] }), { action: 'none' });
});

test('root on Debian with fresh lists: one apt-get install of the deduplicated packages, no update', () => {
  const d = p.decide(base);
  assert.is(d.action, 'install');
  if (d.action !== 'install') return;
  assert.equal(d.packages, ['wireguard-tools', 'iperf3']);
  assert.is(d.update, false);
  assert.is(d.command, 'apt-get -qq -y install --no-install-recommends wireguard-tools iperf3');
  assert.equal(d.args, ['-qq', '-y', 'install', '--no-install-recommends', 'wireguard-tools', 'iperf3']);
});

test('empty or old apt lists: update first, shown in the one printed line', () => {
  for (const listsAgeMs of [null, p.LISTS_MAX_AGE_MS + 1]) {
    const d = p.decide({ ...base, listsAgeMs });
    assert.is(d.action, 'install');
    if (d.action !== 'install') return;
    assert.is(d.update, true);
    assert.is(d.command, 'apt-get -qq update && apt-get -qq -y install --no-install-recommends wireguard-tools iperf3');
  }
  const fresh = p.decide({ ...base, listsAgeMs: p.LISTS_MAX_AGE_MS - 1 });
  assert.is(fresh.action === 'install' && fresh.update, false);
});

test('WGTS_NO_APT, no root, no apt-get or another distribution: stop and name the exact packages', () => {
  const cases: [Partial<DecideInput>, RegExp, RegExp][] = [
    [{ noApt: true }, /WGTS_NO_APT=1 is set/, /sudo apt-get install -y wireguard-tools iperf3$/],
    [{ root: false }, /not running as root/, /sudo apt-get install -y wireguard-tools iperf3$/],
    [{ hasApt: false }, /apt-get is not on PATH/, /sudo apt-get install -y wireguard-tools iperf3$/],
    [{ family: 'fedora' }, /not Debian or Ubuntu \(fedora\)/, /provide wg, wg-quick, iperf3 \(on Debian: wireguard-tools iperf3\)$/],
  ];
  for (const [change, why, how] of cases) {
    const d = p.decide({ ...base, ...change });
    assert.is(d.action, 'stop', JSON.stringify(change));
    if (d.action !== 'stop') return;
    assert.equal(d.packages, ['wireguard-tools', 'iperf3']);
    assert.match(d.message, /^test needs wg, wg-quick, iperf3, which are missing;/);
    assert.match(d.message, why);
    assert.match(d.message, how);
  }
});

test('distribution family from /etc/os-release', () => {
  assert.is(p.distroFamily('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'), 'debian');
  assert.is(p.distroFamily('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'), 'debian');
  assert.is(p.distroFamily('ID=linuxmint\nID_LIKE="ubuntu debian"\n'), 'debian');
  assert.is(p.distroFamily('ID="fedora"\n'), 'fedora');
  assert.is(p.distroFamily('ID=arch\n'), 'arch');
  assert.is(p.distroFamily(''), 'unknown');
});

test('package table: every needed program has a package; unknown programs are an error', () => {
  for (const [what, programs] of Object.entries(p.NEEDS)) {
    assert.ok(programs.length > 0, what);
    p.packagesFor(programs);
  }
  assert.equal(p.packagesFor(['ip', 'ss', 'wg', 'wg-quick']), ['iproute2', 'wireguard-tools']);
  assert.throws(() => p.packagesFor(['no-such-tool']), /no Debian package known for program 'no-such-tool'/);
});

test('apt list age: null for a directory without package lists', () => {
  assert.is(p.aptListsAge(join(root, 'test', 'vectors')), null);
  assert.is(p.aptListsAge('/nonexistent-wgts-dir'), null);
});

test('every package name exists in the configured apt sources (apt-cache)', () => {
  if (spawnSync('apt-cache', ['--version']).status !== 0 || p.aptListsAge() === null) {
    console.log('  (no apt-cache or no apt lists here: package names not checked against the archive)');
    return;
  }
  const all = [...new Set(Object.values(p.PACKAGES))];
  const r = spawnSync('apt-cache', ['show', '--no-all-versions', ...all], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  for (const pkg of all) assert.match(r.stdout, new RegExp(`^Package: ${pkg.replace(/[+]/g, '\\+')}$`, 'm'), `${pkg} in apt-cache`);
});

// --- the scan -------------------------------------------------------------------------------------

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(full));
    else if (/\.(ts|mjs|js)$/.test(e.name)) out.push(full);
  }
  return out;
}

/** Programs started by a literal name: a call to sh, exec, spawn, runIn, which... whose (first or second) argument is a quoted name, or an `ip netns exec NS NAME` argument list. */
function programsIn(paths: string[]): Map<string, string> {
  const call = /\b(?:sh|trySh|exec|tryExec|spawn|spawnSync|execFile|execFileSync|execFileP|run|runOk|runIn|runInOk|spawnIn|which)\(\s*(?:[A-Za-z_.]+,\s*)?'([a-z0-9][a-z0-9_.+-]*)'/g;
  const inNetns = /'exec',\s*[^,\]]+,\s*'([a-z0-9][a-z0-9_.+-]*)'/g;
  // a wrapper command line as an array: ['strace', '-qq', ...], ['setpriv', '--reuid=...', ...]
  const wrapper = /\[\s*'([a-z0-9][a-z0-9_.+-]*)',\s*'-/g;
  const found = new Map<string, string>();
  for (const f of paths) {
    const text = readFileSync(f, 'utf8');
    for (const re of [call, inNetns, wrapper]) for (const m of text.matchAll(re)) if (!found.has(m[1] as string)) found.set(m[1] as string, relative(root, f));
  }
  return found;
}

/** Names the scan finds that are not programs from a package, and why. */
const NOT_PACKAGES: Record<string, string> = {
  wgts: 'this project',
  'wgts-go': 'this project',
  npm: 'comes with Node.js',
  'apt-get': 'the installer itself',
  'apt-cache': 'this test, only where apt is (checked first)',
  resolvectl: 'used by `wgts up` only where systemd-resolved runs (checked first)',
  open: 'test/io/udp.test.ts: a case name given to its run() helper',
  closed: 'test/io/udp.test.ts: a case name given to its run() helper',
  pack: 'an npm subcommand (`npm pack --pack-destination ...`)',
  install: 'an npm subcommand (`npm install -g ...`)',
  show: 'an apt-cache subcommand (this test)',
  record: 'a perf subcommand (`perf record -q -a ...`, scripts/bench-rtt.ts)',
  script: 'a perf subcommand (`perf script -i ...`, scripts/bench-rtt.ts), not util-linux script',
};

function assertListed(found: Map<string, string>, what: Command): void {
  const listed = new Set(p.NEEDS[what]);
  for (const [prog, where] of found) {
    if (prog in NOT_PACKAGES) continue;
    assert.ok(listed.has(prog), `${where} runs '${prog}', which scripts/prereqs.mjs does not list for '${what}'`);
  }
}

test('the scan finds what it should (a scan that finds nothing proves nothing)', () => {
  const found = programsIn(files(join(root, 'test')));
  for (const prog of ['ip', 'wg', 'wireguard-go', 'iperf3', 'ping', 'dig', 'ncat', 'curl', 'strace', 'setpriv']) assert.ok(found.has(prog), prog);
});

test('npm test: every program the tests and the code under test run is listed', () => {
  assertListed(programsIn([...files(join(root, 'test')), ...files(join(root, 'src'))]), 'test');
});

test('npm run lab: the lab code and its program list are covered', () => {
  const labFiles = files(join(root, 'src', 'gateway')).filter((f) => /\/lab[^/]*\.ts$/.test(f));
  assert.ok(labFiles.length >= 3);
  assertListed(programsIn(labFiles), 'lab');
  for (const prog of [...LAB_PROGRAMS.required, ...LAB_PROGRAMS.wireguardGo, ...LAB_PROGRAMS.optional]) {
    assert.ok(p.NEEDS.lab.includes(prog), `LAB_PROGRAMS names '${prog}', not listed for 'lab'`);
  }
  // `wgts up` (run by the lab on both ends) configures with iptables/ip6tables by computed name
  for (const prog of ['iptables', 'ip6tables']) assert.ok(p.NEEDS.lab.includes(prog), prog);
});

/** `roots` and the test helpers they import, directly or through other helpers. */
function withHelpers(roots: string[]): string[] {
  const seen = new Set(roots);
  const queue = [...roots];
  while (queue.length > 0) {
    const f = queue.pop() as string;
    for (const m of readFileSync(f, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      const ts = join(f, '..', `${m[1] as string}.ts`);
      if (ts.startsWith(join(root, 'test', 'helpers')) && existsSync(ts) && !seen.has(ts)) { seen.add(ts); queue.push(ts); }
    }
  }
  return [...seen];
}

test('npm run bench: the benchmarks and the helpers they use are covered', () => {
  const benchFiles = files(join(root, 'scripts')).filter((f) => /bench/.test(f));
  const all = withHelpers(benchFiles);
  assert.ok(all.some((f) => f.endsWith(join('helpers', 'wg.ts'))), 'the bench imports test/helpers/wg.ts');
  assertListed(programsIn(all), 'bench');
});

test('npm run fuzz / soak: their scripts and the helpers they use are covered', () => {
  for (const what of ['fuzz', 'soak'] as const) {
    const own = files(join(root, 'scripts')).filter((f) => f.includes(`/${what}`));
    assert.ok(own.length >= 1, `scripts for ${what}`);
    const all = withHelpers(own);
    assert.ok(all.some((f) => f.endsWith(join('helpers', 'wg.ts'))), `${what} imports test/helpers/wg.ts`);
    assertListed(programsIn(all), what);
  }
});

test('nothing reads outside the repository (a clone has nothing beside it)', () => {
  const sibling = ['..', 'shared'].join('/');
  const devTree = new RegExp(`['"]/${'work'}/`);
  const offenders: string[] = [];
  const scan = [...files(join(root, 'src')), ...files(join(root, 'test')), ...files(join(root, 'scripts')), join(root, 'package.json')];
  for (const f of scan) {
    const text = readFileSync(f, 'utf8');
    if (text.includes(sibling) || devTree.test(text)) offenders.push(relative(root, f));
  }
  assert.equal(offenders, []);
  assert.ok(existsSync(join(root, 'test', 'vectors', 'README.md')));
});

test('every vector file in the repository carries its description and source', () => {
  const dir = join(root, 'test', 'vectors');
  const names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  assert.ok(names.length >= 10, `${names.length} vector files`);
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  for (const n of names) {
    const v = JSON.parse(readFileSync(join(dir, n), 'utf8')) as Record<string, unknown>;
    assert.type(v.description, 'string', `${n}: description`);
    assert.ok(v.source !== undefined && v.source !== null, `${n}: source`);
    assert.ok(readme.includes(`\`${n}\``), `${n} named in test/vectors/README.md`);
  }
});

test.run();
