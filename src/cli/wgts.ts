#!/usr/bin/env node
// `wgts`: the command-line entry. A thin dispatcher: every command group lives in its own module
// under src/cli/ and exports a register function; buildProgram() wires them onto one commander
// program. Add a group by appending its register function to COMMAND_GROUPS.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerDaemonCommand } from './daemon.js';
import { registerDoctorCommand } from './doctor.js';
import { registerEnvCommands } from './env.js';
import { registerGatewayCommands } from './gateway.js';
import { registerHaCommands } from './ha.js';
import { registerKeyCommands } from './keys.js';
import { registerLabCommand } from './lab.js';
import { registerPeerCommands } from './peer.js';
import { registerServiceCommands } from './service.js';
import { registerUpCommands } from './up.js';
import { VERSION } from './version.js';

/** A command group: adds its subcommands to the program. */
export type RegisterCommands = (program: Command) => void;

/** Every command group, in the order they appear in `wgts --help`. */
const COMMAND_GROUPS: readonly RegisterCommands[] = [registerKeyCommands, registerDaemonCommand, registerGatewayCommands, registerHaCommands, registerPeerCommands, registerUpCommands, registerEnvCommands, registerServiceCommands, registerDoctorCommand, registerLabCommand];

/** The `wgts` program with every command group registered (not yet parsed). */
export function buildProgram(): Command {
  const program = new Command('wgts')
    .description('userspace WireGuard in TypeScript: keys, interfaces, project-network gateway')
    .version(VERSION, '-V, --version')
    .showHelpAfterError();
  for (const register of COMMAND_GROUPS) register(program);
  return program;
}

/** True when this module is the process entry point (directly or through the npm bin symlink). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await buildProgram().parseAsync(process.argv);
