// `wgts doctor FILE [--json]`: see src/gateway/doctor/doctor.ts. Exit status 0 only when every
// check passed (skipped ones do not count), 1 otherwise.
import type { Command } from 'commander';
import { runDoctor } from '../gateway/doctor/doctor.js';
import { formatReport } from '../gateway/doctor/report.js';
import { runCommand } from './gateway.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check a gateway or laptop config against this host (port, forwarding, firewall, DNS, MTU, routes, resolver, permissions) and say how to fix each problem; exit 1 when any check fails')
    .argument('<file>', 'config file; run it as root in the network namespace the interface runs in')
    .option('--json', 'the report as JSON')
    .action((file: string, opts: { json?: boolean }) => runCommand(async () => {
      const report = await runDoctor(file);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      if (!report.ok) process.exitCode = 1;
    }));
}
