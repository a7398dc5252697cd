// `wgts peer add | list | remove`: onboarding laptops to a gateway config. `add` prints the
// laptop's wg-quick config (the deliverable: it holds the laptop's private key, which exists
// nowhere else) or writes it to --out PATH, optionally drawn as a terminal QR code for phones.
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { APPLY_TIMEOUT_MS, runningFor, waitForPeerGone } from '../gateway/applied.js';
import { addPeer, clientConfName, listGatewayPeers, removePeer, type GatewayAccess, type PeerInfo } from '../gateway/onboard.js';
import { collect, runCommand } from './gateway.js';

const APPLY_TIMEOUT_S = APPLY_TIMEOUT_MS / 1000;

interface AddFlags {
  allow?: string[];
  allowInbound?: string[];
  env?: string[];
  qr?: boolean;
  out?: string;
  force?: boolean;
}

/** The --allow help: what a laptop reaches with and without rules (README "Access" says the same). */
export const ALLOW_HELP = 'only allow DEST = CIDR[:PORT[-PORT]][/tcp|/udp|/icmp], or gateway[:PORT[-PORT]][/proto] for the '
  + "gateway's tunnel address; repeatable. Without --allow the laptop reaches the project networks (Network =) only: not the "
  + 'gateway host (none of its addresses) and no other network behind it. DNS on the gateway is always allowed';

/** The --allow-inbound help. */
export const ALLOW_INBOUND_HELP = 'let the project open connections to the laptop on PORT[-PORT][/tcp|/udp] (or icmp: ping); '
  + 'repeatable. Without it the project reaches the laptop only with answers to connections the laptop started';

/** The --env help. */
export const ENV_HELP = 'let the laptop read the project variables whose names match PATTERN (app_*, db_PASSWORD; * and ? are wildcards) '
  + 'with `wgts env` / `wgts run` ([Env] of the gateway config holds them); repeatable. Without it: none';

/** Prints the client config as a terminal QR code (half-block characters, two rows per line). */
async function printQr(text: string): Promise<void> {
  process.stdout.write(await QRCode.toString(text, { type: 'terminal', small: true }));
}

/**
 * One table row per peer: name, tunnel address, public key, what it reaches, what may reach it;
 * then what holds for every peer.
 */
function peerTable(peers: readonly PeerInfo[], access: GatewayAccess | null): string {
  const nets = access?.networks.join(', ') ?? 'the project networks';
  // The ENV column only when some peer may read project variables.
  const env = peers.some((p) => p.env.length > 0);
  const rows = [
    ['NAME', 'ADDRESS', 'PUBLIC KEY', 'REACHES', 'INBOUND', ...(env ? ['ENV'] : [])],
    ...peers.map((p) => [
      p.name ?? '-',
      p.address ?? (p.allowedIPs.join(',') || '-'),
      p.publicKey,
      p.allow.length ? p.allow.join(', ') : `${nets} (default)`,
      p.allowInbound.length ? p.allowInbound.join(', ') : '-',
      ...(env ? [p.env.length ? p.env.join(', ') : '-'] : []),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const table = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n');
  const dns = access?.dns ? `the gateway's DNS (${access.dns})` : "the gateway's DNS";
  return `${table}\n\nEvery peer also reaches ${dns}, and nothing else: not the gateway host (any of its addresses) unless a rule\n`
    + `names it (gateway:22/tcp = ${access?.gateway.join(', ') || 'its tunnel address'}), and no network behind it that is not listed.\n`
    + 'INBOUND: connections the project may open to the laptop; answers to what the laptop starts always pass.\n'
    + (env ? 'ENV: the project variables the laptop may read (wgts env / wgts run); none without a grant.\n' : '');
}

/** Registers `wgts peer add`, `wgts peer list` and `wgts peer remove`. */
export function registerPeerCommands(program: Command): void {
  const peer = program.command('peer').description('add, list and remove laptops (peers) of a gateway config');

  peer
    .command('add')
    .description('add laptop NAME to the gateway config FILE and print its wg-quick config')
    .argument('<file>', 'gateway config file')
    .argument('<name>', 'peer name (letters, digits, ".", "_", "-")')
    .option('--allow <dest>', ALLOW_HELP, collect)
    .option('--allow-inbound <ports>', ALLOW_INBOUND_HELP, collect)
    .option('--env <pattern>', ENV_HELP, collect)
    .option('--qr', 'also print the client config as a terminal QR code')
    .option('--out <path>', 'write the client config to PATH = DIR/IFNAME.conf (mode 0600) instead of stdout; IFNAME (1-15 characters) becomes the interface name of wgts up / wg-quick up')
    .option('--force', 'with --out: replace an existing file')
    .action((file: string, name: string, flags: AddFlags) => runCommand(async () => {
      const r = await addPeer(file, name, {
        allow: flags.allow ?? [], allowInbound: flags.allowInbound ?? [], env: flags.env ?? [], ...(flags.out === undefined ? {} : { out: flags.out }), force: flags.force === true,
      });
      if (flags.out === undefined) {
        process.stdout.write(r.clientConfig);
        if (clientConfName(r.name) !== `${r.name}.conf`) {
          process.stderr.write(`wgts: save this config as ${clientConfName(r.name)} (or another NAME.conf with NAME at most 15 of A-Z a-z 0-9 _ = + . -): wgts up and wg-quick up name the interface after the file
`);
        }
      }
      else process.stdout.write(`wrote the client config of ${r.name} (${[r.address, r.address6].filter(Boolean).join(', ')}) to ${flags.out}\n`);
      if (flags.qr) {
        if (flags.out === undefined) process.stdout.write('\n');
        await printQr(r.clientConfig);
      }
    }));

  peer
    .command('list')
    .description('list the peers of FILE: name, tunnel address, public key, what each reaches and what may reach it')
    .argument('<file>', 'gateway config file')
    .option('--json', 'print a JSON array instead of a table')
    .action((file: string, flags: { json?: boolean }) => runCommand(async () => {
      const { peers, access } = await listGatewayPeers(file);
      if (flags.json) process.stdout.write(`${JSON.stringify(peers, null, 2)}\n`);
      else process.stdout.write(peers.length ? peerTable(peers, access) : `no peers in ${file}\n`);
    }));

  peer
    .command('remove')
    .description('remove a peer from FILE by name or public key; waits until a running gateway has cut it off (or says none runs)')
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .action((file: string, ref: string) => runCommand(async () => {
      const p = await removePeer(file, ref);
      const who = p.name ?? p.publicKey;
      process.stdout.write(`removed peer ${who} from ${file} (${p.address ?? p.allowedIPs.join(', ')}, public key ${p.publicKey})\n`);
      const running = runningFor(file);
      if (running.length === 0) {
        process.stdout.write(`no running gateway uses ${file}: nothing to cut off (\`wgts up ${file}\` starts without ${who})\n`);
        return;
      }
      const outcomes = await Promise.all(running.map((s) => waitForPeerGone(s, p.publicKey)));
      for (const o of outcomes) {
        if (o.kind === 'applied') process.stdout.write(`the running gateway ${o.ifname} (pid ${o.pid}) cut ${who} off (${o.ms} ms)\n`);
        else process.stderr.write(`wgts: the running gateway ${o.ifname} (pid ${o.pid}) has not removed ${who} within ${APPLY_TIMEOUT_S} s: ${o.why}\n`);
      }
      if (outcomes.some((o) => o.kind === 'timeout')) process.exitCode = 1;
    }));
}
