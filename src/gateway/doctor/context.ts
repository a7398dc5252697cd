// What every check of `wgts doctor` works from: the config file (read and parsed, with its
// problems), the interface it stands for, and whether a `wgts up` runs that interface in this
// network namespace (its status file, its device over UAPI). Built once per run.
import { promises as fsp, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigDocument, WgtsConfig } from '../../config/model.js';
import { parseConfig } from '../../config/parse.js';
import { processAlive } from '../../config/lock.js';
import { compileAccess, gatewayAliases } from '../access.js';
import { runCommand, type CommandRunner } from '../netcfg.js';
import { checkUpConfig, interfaceNameOf } from '../plan.js';
import { showInterface, type ShowInterface } from '../show.js';
import { readStatus, STATUS_DIR, type InterfaceStatus } from '../status.js';
import { sameNetns } from './probe.js';

export interface DoctorContext {
  /** The config file as given. */
  readonly file: string;
  readonly ifname: string;
  /** The file's text; null when it cannot be read (`problems` says why). */
  readonly text: string | null;
  /** The parsed config; null when it does not parse. */
  readonly config: WgtsConfig | null;
  readonly doc: ConfigDocument | null;
  /** Why the file cannot be used as it is (FILE:LINE: reason), empty when it can. */
  readonly problems: string[];
  /** The wgts up of this interface running in this network namespace, with its device. */
  readonly running: { pid: number; status: InterfaceStatus; device: ShowInterface | null } | null;
  /** A wgts up of this interface running in another network namespace (named when it is one of /run/netns). */
  readonly elsewhere: { pid: number; netns: string | null } | null;
  readonly run: CommandRunner;
  /** The unix time the checks compare handshakes with (s). */
  readonly nowSec: number;
}

export interface ContextOptions {
  run?: CommandRunner;
  statusDir?: string;
}

/** The /run/netns name of the network namespace process `pid` runs in, or null. */
function netnsNameOf(pid: number, netnsDir = '/run/netns'): string | null {
  try {
    const theirs = statSync(`/proc/${pid}/ns/net`);
    for (const name of readdirSync(netnsDir)) {
      const st = statSync(join(netnsDir, name));
      if (st.ino === theirs.ino && st.dev === theirs.dev) return name;
    }
  } catch {
    // not readable, or no named namespaces
  }
  return null;
}

export async function doctorContext(file: string, opts: ContextOptions = {}): Promise<DoctorContext> {
  const ifname = interfaceNameOf(file);
  const run = opts.run ?? runCommand;
  const problems: string[] = [];
  let text: string | null = null;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    problems.push(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let config: WgtsConfig | null = null;
  let doc: ConfigDocument | null = null;
  if (text !== null) {
    const r = parseConfig(text, file);
    if (r.ok) {
      config = r.config;
      doc = r.doc;
      problems.push(...checkUpConfig(r.config, file, r.doc));
      const access = compileAccess(r.config.peers, file, gatewayAliases(r.config.interface.addresses.map((a) => a.address)));
      if (!access.ok) problems.push(...access.errors);
    } else {
      problems.push(...r.errors.map((e) => e.message));
    }
  }
  const status = readStatus(ifname, opts.statusDir ?? STATUS_DIR);
  let running: DoctorContext['running'] = null;
  let elsewhere: DoctorContext['elsewhere'] = null;
  if (status !== null && processAlive(status.pid)) {
    if (sameNetns(status.pid)) {
      const device = await showInterface(ifname).catch(() => null);
      running = { pid: status.pid, status, device };
    } else {
      elsewhere = { pid: status.pid, netns: netnsNameOf(status.pid) };
    }
  }
  return { file, ifname, text, config, doc, problems, running, elsewhere, run, nowSec: Math.floor(Date.now() / 1000) };
}
