// `wgts service install FILE [--enable [--now]]`, `wgts service uninstall FILE|IFNAME` and
// `wgts reload FILE|IFNAME`: running interfaces as systemd services (the unit: service-unit.ts).
//
// install writes the template wgts@.service (and, when the config is not
// /etc/wireguard/IFNAME.conf, the drop-in wgts@IFNAME.service.d/wgts.conf naming it) into
// /etc/systemd/system, or ROOT/etc/systemd/system with --root (as `systemctl --root`), or any
// directory with --unit-dir; it reloads systemd when systemd runs and the files went to its
// directory, and enables the instance only with --enable (--now: start it too). Files are written
// atomically, 0644; a file wgts did not write is never replaced without --force. uninstall
// disables (and stops) the instance and removes what install wrote, the template only when no
// other instance still uses it.
//
// reload is what ExecReload runs, and works without systemd too: it sends SIGHUP to the `wgts up`
// of the interface and waits until that process has read the file again (the status file's
// `reload.checked`), then exits 0 when the file is applied, 1 with the errors when it is not.
import { existsSync, promises as fsp, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { processAlive } from '../config/lock.js';
import { writeFileAtomic } from '../config/write.js';
import { LOG_FORMATS, type LogFormat } from '../device/log.js';
import { runCommand as runProgram, type CommandRunner } from '../gateway/netcfg.js';
import { checkUpConfig, interfaceNameOf, loadConfig, UpError } from '../gateway/plan.js';
import { readStatus, STATUS_DIR, type ReloadStatus } from '../gateway/status.js';
import { runCommand } from './gateway.js';
import {
  DEFAULT_CONFIG_DIR, DROP_IN_NAME, dropIn, GENERATED_MARK, TEMPLATE_NAME, templateUnit, unitName,
} from './service-unit.js';
import { downTarget } from './up.js';

/** systemd's directory for units the administrator installs. */
export const SYSTEM_UNIT_DIR = '/etc/systemd/system';
/** How long `wgts reload` waits for the running process by default (s). */
export const RELOAD_TIMEOUT_S = 60;

export interface ServiceOptions {
  /** Operate on this root directory, as `systemctl --root` (units in ROOT/etc/systemd/system). */
  root?: string;
  /** Write the units here instead (no systemctl is run then). */
  unitDir?: string;
  run?: CommandRunner;
  /** Whether systemd is the running init (default: /run/systemd/system exists). */
  systemdRunning?: boolean;
}

export interface InstallOptions extends ServiceOptions {
  enable?: boolean;
  /** With enable: start it now too. */
  now?: boolean;
  force?: boolean;
  logFormat?: LogFormat;
  /** The node binary and wgts script the unit runs (default: this process's). */
  node?: string;
  script?: string;
}

/** What install or uninstall did, for the command's output. */
export interface ServiceReport {
  unit: string;
  /** Files written or removed. */
  files: string[];
  /** systemctl command lines run. */
  ran: string[];
  /** Notes and next steps. */
  notes: string[];
}

function unitDirOf(o: ServiceOptions): string {
  return o.unitDir ?? join(o.root ?? '/', SYSTEM_UNIT_DIR);
}

/** Whether systemctl may act on the files: they are in systemd's own directory (of --root or the host). */
function systemctlApplies(o: ServiceOptions): boolean {
  return o.unitDir === undefined || resolve(o.unitDir) === resolve(join(o.root ?? '/', SYSTEM_UNIT_DIR));
}

function systemdRunning(o: ServiceOptions): boolean {
  return o.systemdRunning ?? existsSync('/run/systemd/system');
}

/** The wgts entry script next to this module, symlinks resolved (npm's bin links). */
function defaultScript(): string {
  return realpathSync(join(dirname(fileURLToPath(import.meta.url)), 'wgts.js'));
}

/** The README of this package as a file: URI for Documentation=, when it exists and needs no quoting. */
function documentationUri(script: string): string | undefined {
  let dir = dirname(script);
  for (let i = 0; i < 4; i++) {
    const readme = join(dir, 'README.md');
    if (existsSync(readme) && /^[A-Za-z0-9_./@+-]+$/.test(readme)) return `file:${readme}`;
    dir = dirname(dir);
  }
  return undefined;
}

/** Whether the installed iptables is the legacy variant (`iptables -V` says `(legacy)`). */
async function iptablesLegacy(run: CommandRunner): Promise<boolean> {
  try {
    return /\(legacy\)/.test(await run('iptables', ['-V']));
  } catch {
    return false;
  }
}

/** Whether `path` is a file `wgts service install` wrote (its first line is the mark). */
function isGenerated(path: string): boolean {
  try {
    return readFileSync(path, 'utf8').startsWith(GENERATED_MARK);
  } catch {
    return false;
  }
}

/** Writes `text` to `path` unless it holds exactly that; refuses a file wgts did not write unless `force`. */
async function writeUnitFile(path: string, text: string, force: boolean, report: ServiceReport): Promise<void> {
  let old: string | null = null;
  try {
    old = await fsp.readFile(path, 'utf8');
  } catch {
    // none yet
  }
  if (old === text) return;
  if (old !== null && !old.startsWith(GENERATED_MARK) && !force) {
    throw new Error(`${path} exists and was not written by wgts service install: not replaced (--force replaces it)`);
  }
  await fsp.mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileAtomic(path, text, 0o644);
  report.files.push(`${old === null ? 'wrote' : 'updated'} ${path}`);
}

/** systemctl with --root when one is given; recorded in the report. */
async function systemctl(o: ServiceOptions, args: string[], report: ServiceReport): Promise<void> {
  const full = [...(o.root !== undefined ? [`--root=${o.root}`] : []), ...args];
  report.ran.push(`systemctl ${full.join(' ')}`);
  await (o.run ?? runProgram)('systemctl', full);
}

/**
 * Installs the service of the config file `file` (see the module comment). Refuses a config that
 * `wgts up` would refuse.
 */
export async function installService(file: string, o: InstallOptions = {}): Promise<ServiceReport> {
  const path = resolve(file);
  const ifname = interfaceNameOf(path);
  const { config, doc, warnings } = await loadConfig(path);
  const problems = checkUpConfig(config, path, doc);
  if (problems.length > 0) throw new UpError(problems);
  if (o.now && !o.enable) throw new Error('--now starts the service it enables: give --enable too');
  if (o.enable && !systemctlApplies(o)) throw new Error(`--enable needs the unit in ${SYSTEM_UNIT_DIR} (of --root): systemd does not read ${o.unitDir}`);
  if (o.now && (o.root !== undefined || !systemdRunning(o))) throw new Error('--now needs a running systemd (not with --root)');

  const run = o.run ?? runProgram;
  const dir = unitDirOf(o);
  const unit = unitName(ifname);
  const report: ServiceReport = { unit, files: [], ran: [], notes: warnings.map((w) => `warning: ${w}`) };
  const script = o.script ?? defaultScript();
  const template = templateUnit({
    node: o.node ?? process.execPath, script, logFormat: o.logFormat, iptablesLegacy: await iptablesLegacy(run), documentation: documentationUri(script),
  });
  await writeUnitFile(join(dir, TEMPLATE_NAME), template, o.force === true, report);
  const dropInPath = join(dir, `${unit}.d`, DROP_IN_NAME);
  const extra = dropIn(ifname, path);
  if (extra !== null) {
    await writeUnitFile(dropInPath, extra, o.force === true, report);
  } else if (isGenerated(dropInPath)) {
    await removeDropIn(dropInPath, report);
  }

  const live = systemctlApplies(o) && o.root === undefined && systemdRunning(o);
  if (live && report.files.length > 0) await systemctl(o, ['daemon-reload'], report);
  if (o.enable) await systemctl(o, ['enable', ...(o.now ? ['--now'] : []), unit], report);
  if (report.files.length === 0) report.notes.push(`${unit} is installed already, unchanged`);
  const running = readStatus(ifname);
  if (running !== null && processAlive(running.pid) && !o.now) {
    report.notes.push(`wgts up of ${ifname} runs already (pid ${running.pid}): stop it (wgts down ${ifname}) before starting the service`);
  }
  if (!o.enable) report.notes.push(`start it with: systemctl enable --now ${unit}`);
  report.notes.push(`see it with: systemctl status ${unit}; journalctl -u ${unit}; apply file changes with: systemctl reload ${unit}`);
  if (extra === null) report.notes.push(`the unit runs ${DEFAULT_CONFIG_DIR}/${ifname}.conf`);
  else report.notes.push(`the unit runs ${path} (${join(`${unit}.d`, DROP_IN_NAME)})`);
  return report;
}

async function removeDropIn(path: string, report: ServiceReport): Promise<void> {
  await fsp.rm(path, { force: true });
  report.files.push(`removed ${path}`);
  try {
    await fsp.rmdir(dirname(path));
  } catch {
    // other drop-ins of the administrator stay, and so does their directory
  }
}

/** Instances of the template that `dir` still knows: drop-ins of wgts and enablement links. */
function otherInstances(dir: string, except: string): string[] {
  const found = new Set<string>();
  let entries: string[] = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  for (const e of entries) {
    if (/^wgts@.+\.service\.d$/.test(e) && isGenerated(join(dir, e, DROP_IN_NAME))) found.add(e.slice(0, -2));
    if (e.endsWith('.wants') || e.endsWith('.requires')) {
      try {
        for (const w of readdirSync(join(dir, e))) if (/^wgts@.+\.service$/.test(w)) found.add(w);
      } catch {
        // not a directory
      }
    }
  }
  found.delete(except);
  return [...found].sort();
}

/** Uninstalls the service of interface `target` (a name or its config file; see the module comment). */
export async function uninstallService(target: string, o: ServiceOptions = {}): Promise<ServiceReport> {
  const ifname = downTarget(target);
  const dir = unitDirOf(o);
  const unit = unitName(ifname);
  const report: ServiceReport = { unit, files: [], ran: [], notes: [] };
  const live = systemctlApplies(o) && o.root === undefined && systemdRunning(o);
  const template = join(dir, TEMPLATE_NAME);
  const dropInPath = join(dir, `${unit}.d`, DROP_IN_NAME);
  const known = existsSync(template) || isGenerated(dropInPath);
  if (!known) throw new Error(`${unit} is not installed in ${dir}`);
  if (systemctlApplies(o) && (live || o.root !== undefined)) await systemctl(o, ['disable', ...(live ? ['--now'] : []), unit], report);
  if (isGenerated(dropInPath)) await removeDropIn(dropInPath, report);
  const others = otherInstances(dir, unit);
  if (others.length > 0) {
    report.notes.push(`${TEMPLATE_NAME} kept: ${others.join(', ')} still use${others.length === 1 ? 's' : ''} it`);
  } else if (isGenerated(template)) {
    await fsp.rm(template, { force: true });
    report.files.push(`removed ${template}`);
  } else if (existsSync(template)) {
    report.notes.push(`${template} was not written by wgts service install: left in place`);
  }
  if (live) await systemctl(o, ['daemon-reload'], report);
  return report;
}

/**
 * Reloads the running `wgts up` of `ifname`: SIGHUP, then waits (at most `timeoutMs`) for a reload
 * pass that began after the signal. Resolves with its outcome; throws when no wgts up runs the
 * interface or it does not answer in time.
 */
export async function reloadInterface(ifname: string, timeoutMs = RELOAD_TIMEOUT_S * 1000, statusDir = STATUS_DIR): Promise<ReloadStatus> {
  const st = readStatus(ifname, statusDir);
  if (st === null || !processAlive(st.pid)) throw new Error(`no wgts up runs ${ifname} (no live status file in ${statusDir})`);
  const since = Date.now();
  process.kill(st.pid, 'SIGHUP');
  const deadline = since + timeoutMs;
  while (Date.now() < deadline) {
    const now = readStatus(ifname, statusDir);
    if (now === null || now.pid !== st.pid) throw new Error(`${ifname} stopped while reloading`);
    const r = now.reload;
    if (r?.checked !== undefined && r.checked >= since) return r;
    await sleep(50);
  }
  throw new Error(`${ifname} (pid ${st.pid}) did not finish reloading within ${Math.round(timeoutMs / 1000)} s`);
}

function printReport(r: ServiceReport): void {
  for (const f of r.files) process.stdout.write(`${f}\n`);
  for (const c of r.ran) process.stdout.write(`ran: ${c}\n`);
  for (const n of r.notes) process.stdout.write(`${n}\n`);
}

interface DirFlags { root?: string; unitDir?: string }

const rootOption = (): Option => new Option('--root <dir>', 'operate on the system below DIR, as systemctl --root (units in DIR/etc/systemd/system)');
const unitDirOption = (): Option => new Option('--unit-dir <dir>', `write the unit files into DIR instead of ${SYSTEM_UNIT_DIR} (nothing is enabled or reloaded)`);

/** Registers `wgts service install|uninstall` and `wgts reload`. */
export function registerServiceCommands(program: Command): void {
  const service = program.command('service').description('run an interface as a systemd service (wgts@IFNAME.service)');
  service
    .command('install')
    .description(`write the systemd unit wgts@.service (and a drop-in naming FILE unless it is ${DEFAULT_CONFIG_DIR}/IFNAME.conf); enable it only with --enable`)
    .argument('<file>', 'config file (gateway or laptop); the interface is its name without .conf')
    .option('--enable', 'enable the service at boot (systemctl enable)')
    .option('--now', 'with --enable: start it now too')
    .addOption(new Option('--log-format <format>', 'the log format of the service').choices(LOG_FORMATS))
    .option('--force', 'replace unit files that wgts did not write')
    .addOption(rootOption())
    .addOption(unitDirOption())
    .action((file: string, flags: DirFlags & { enable?: boolean; now?: boolean; force?: boolean; logFormat?: LogFormat }) => runCommand(async () => {
      printReport(await installService(file, { ...flags }));
    }));
  service
    .command('uninstall')
    .description('disable and stop the service of an interface and remove the unit files wgts wrote')
    .argument('<interface>', 'interface name or its config file')
    .addOption(rootOption())
    .addOption(unitDirOption())
    .action((target: string, flags: DirFlags) => runCommand(async () => {
      printReport(await uninstallService(target, { ...flags }));
    }));

  program
    .command('reload')
    .description('make a running wgts up read its config file again (SIGHUP) and wait until it is applied; exit 1 with the errors when it is not')
    .argument('<interface>', 'interface name or its config file')
    .option('--timeout <seconds>', 'how long to wait', String(RELOAD_TIMEOUT_S))
    .action((target: string, flags: { timeout: string }) => runCommand(async () => {
      const seconds = Number(flags.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--timeout ${flags.timeout}: expected a number of seconds`);
      const ifname = downTarget(target);
      const r = await reloadInterface(ifname, seconds * 1000);
      if (r.ok) {
        process.stdout.write(`wgts: ${ifname}: reloaded\n`);
        return;
      }
      const retry = r.nextRetry !== undefined ? `; it tries again in ${Math.max(0, Math.round((r.nextRetry - Date.now()) / 1000))} s` : '';
      throw new Error([`${ifname}: reload failed (attempt ${r.attempts})${retry}; the interface keeps running:`, ...r.errors.map((e) => `  ${e}`)].join('\n'));
    }));
}
