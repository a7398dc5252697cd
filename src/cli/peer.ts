// `wgts peer add | list | remove`: onboarding laptops to a gateway config. `add` prints the
// laptop's wg-quick config (the deliverable: it holds the laptop's private key, which exists
// nowhere else) or writes it to --out PATH, optionally drawn as a terminal QR code for phones.
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { addPeer, clientConfName, listPeers, removePeer, type PeerInfo } from '../gateway/onboard.js';
import { collect, runCommand } from './gateway.js';

interface AddFlags {
  allow?: string[];
  qr?: boolean;
  out?: string;
  force?: boolean;
}

/** Prints the client config as a terminal QR code (half-block characters, two rows per line). */
async function printQr(text: string): Promise<void> {
  process.stdout.write(await QRCode.toString(text, { type: 'terminal', small: true }));
}

/** One table row per peer: name, tunnel address, public key, access rules. */
function peerTable(peers: readonly PeerInfo[]): string {
  const rows = [
    ['NAME', 'ADDRESS', 'PUBLIC KEY', 'ALLOW'],
    ...peers.map((p) => [
      p.name ?? '-',
      p.address ?? (p.allowedIPs.join(',') || '-'),
      p.publicKey,
      p.allow.length ? p.allow.join(', ') : 'all networks',
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** Registers `wgts peer add`, `wgts peer list` and `wgts peer remove`. */
export function registerPeerCommands(program: Command): void {
  const peer = program.command('peer').description('add, list and remove laptops (peers) of a gateway config');

  peer
    .command('add')
    .description('add laptop NAME to the gateway config FILE and print its wg-quick config')
    .argument('<file>', 'gateway config file')
    .argument('<name>', 'peer name (letters, digits, ".", "_", "-")')
    .option('--allow <dest>', 'only allow DEST = CIDR[:PORT[-PORT]][/tcp|/udp|/icmp]; repeatable (default: all project networks)', collect)
    .option('--qr', 'also print the client config as a terminal QR code')
    .option('--out <path>', 'write the client config to PATH = DIR/IFNAME.conf (mode 0600) instead of stdout; IFNAME (1-15 characters) becomes the interface name of wgts up / wg-quick up')
    .option('--force', 'with --out: replace an existing file')
    .action((file: string, name: string, flags: AddFlags) => runCommand(async () => {
      const r = await addPeer(file, name, { allow: flags.allow ?? [], ...(flags.out === undefined ? {} : { out: flags.out }), force: flags.force === true });
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
    .description('list the peers of FILE: name, tunnel address, public key, access rules')
    .argument('<file>', 'gateway config file')
    .option('--json', 'print a JSON array instead of a table')
    .action((file: string, flags: { json?: boolean }) => runCommand(async () => {
      const peers = await listPeers(file);
      if (flags.json) process.stdout.write(`${JSON.stringify(peers, null, 2)}\n`);
      else process.stdout.write(peers.length ? peerTable(peers) : `no peers in ${file}\n`);
    }));

  peer
    .command('remove')
    .description('remove a peer from FILE by name or public key (a running gateway cuts it off)')
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .action((file: string, ref: string) => runCommand(async () => {
      const p = await removePeer(file, ref);
      process.stdout.write(`removed peer ${p.name ?? p.publicKey} (${p.address ?? p.allowedIPs.join(', ')}, public key ${p.publicKey})\n`);
    }));
}
