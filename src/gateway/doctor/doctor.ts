// `wgts doctor FILE`: checks a gateway or laptop config against this host and explains each
// finding with its fix (the checks: checks-host.ts, checks-net.ts, checks-dns.ts). It reads and
// asks, never changes anything, and works whether or not the interface runs: checks of the running
// interface (its rules, DNS answers, handshakes, routes) are skipped when it does not run here,
// and checks that matter before a start (port free, port 53 free, route overlaps) turn into
// checks of what the running process holds when it does. Run it in the network namespace the
// interface runs (or will run) in, as root.
import { configCheck, forwardingCheck, forwardRulesCheck, masqueradeCheck, permissionsCheck, runningCheck, toolsCheck } from './checks-host.js';
import { dnsListenerCheck, dnsUpstreamCheck, resolverCheck } from './checks-dns.js';
import { handshakeCheck, mtuCheck, routesCheck, udpInputCheck, udpPortCheck } from './checks-net.js';
import { doctorContext, type ContextOptions, type DoctorContext } from './context.js';
import { fail, skip, type CheckResult, type DoctorReport } from './report.js';

/** Every check, in the order they are reported. */
const CHECKS: readonly [string, string, (ctx: DoctorContext) => CheckResult | Promise<CheckResult>][] = [
  ['config', 'config file', configCheck],
  ['permissions', 'config file permissions', permissionsCheck],
  ['running', 'running interface', runningCheck],
  ['tools', 'iptables / nftables', toolsCheck],
  ['udp-port', 'UDP port', udpPortCheck],
  ['udp-input', 'UDP port let in', udpInputCheck],
  ['forwarding', 'IP forwarding', forwardingCheck],
  ['forward-rules', 'FORWARD chain', forwardRulesCheck],
  ['masquerade', 'masquerade', masqueradeCheck],
  ['dns-listener', 'DNS listener', dnsListenerCheck],
  ['dns-upstream', 'DNS upstream', dnsUpstreamCheck],
  ['resolver', 'resolver setup', resolverCheck],
  ['mtu', 'MTU', mtuCheck],
  ['routes', 'routes', routesCheck],
  ['handshake', 'handshake', handshakeCheck],
];

/** The checks that describe the file, not the namespace: they run wherever the interface runs. */
const ALWAYS = new Set(['config', 'permissions', 'running']);

/** Runs every check on the config file `file`. */
export async function runDoctor(file: string, opts: ContextOptions = {}): Promise<DoctorReport> {
  const ctx = await doctorContext(file, opts);
  const checks: CheckResult[] = [];
  for (const [id, title, check] of CHECKS) {
    if (ctx.elsewhere && !ALWAYS.has(id)) {
      // Everything else would describe this namespace, not the one the interface runs in.
      checks.push(skip(id, title, 'the interface runs in another network namespace (see above)'));
      continue;
    }
    try {
      checks.push(await check(ctx));
    } catch (e) {
      // A check that cannot run is a finding too, never a crash of the doctor.
      checks.push(fail(id, title, `the check itself failed: ${e instanceof Error ? e.message : String(e)}`, 'run wgts doctor as root, in the namespace of the interface'));
    }
  }
  return {
    file,
    interface: ctx.ifname,
    role: ctx.config === null ? 'unknown' : ctx.config.gateway ? 'gateway' : 'laptop',
    running: ctx.running ? { pid: ctx.running.pid } : null,
    ok: checks.every((c) => c.status !== 'fail'),
    checks,
  };
}
