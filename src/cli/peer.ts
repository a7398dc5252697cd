// `wgts peer add | list | remove | disable | enable | set | rekey | config`: the laptops of a gateway
// config. `add` and `rekey` print the laptop's wg-quick config (the deliverable: it holds the
// laptop's private key, which exists nowhere else) or write it to --out PATH, optionally drawn as a
// terminal QR code for phones; `config` re-prints it without the secrets. Commands that change a
// peer wait until a running gateway of the file applied the change.
import type { Command } from 'commander';
import QRCode from 'qrcode';
import { APPLY_TIMEOUT_MS, runningFor, waitForPeerGone, waitForPeerPresent } from '../gateway/applied.js';
import { livePeers, type LivePeer } from '../gateway/live.js';
import { addPeer, listGatewayPeers, removePeer, type GatewayAccess, type PeerInfo } from '../gateway/onboard.js';
import { parseExpiresOption } from '../gateway/peer-state.js';
import { reissueConfig, rekeyPeer, setPeerFlags, type PeerChangeResult } from '../gateway/peer-ops.js';
import { prettyBytes, prettyDuration } from '../gateway/show.js';
import { collect, elsewhere, reportApplied, runCommand } from './gateway.js';

const APPLY_TIMEOUT_S = APPLY_TIMEOUT_MS / 1000;

interface AddFlags {
  allow?: string[];
  allowInbound?: string[];
  env?: string[];
  qr?: boolean;
  out?: string;
  force?: boolean;
  expires?: string;
}

/** The --expires help. */
const EXPIRES_HELP = 'the peer is cut off from this time on (and stays in the file): a date (2026-12-31), a UTC time (2026-12-31T18:00:00Z), or a duration from now (90d, 12h, 30m, 2w)';

/** An --expires value as ms, 'never', or a thrown error naming the accepted forms. */
function expiresFlag(text: string, now: number): number | 'never' {
  const v = parseExpiresOption(text, now);
  if (typeof v === 'object') throw new Error(v.error);
  return v;
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

/** A peer as `peer list` shows it: the file's view plus, when a gateway runs the file, the interface's. */
export interface ListedPeer extends PeerInfo {
  /** Handshake within 3 minutes; null when no gateway runs the file (or the peer is not on it). */
  online: boolean | null;
  /** Unix seconds of the latest handshake (0 = never); null without a running gateway. */
  latestHandshake: number | null;
  endpoint: string | null;
  rxBytes: number | null;
  txBytes: number | null;
}

function listed(p: PeerInfo, live: LivePeer | undefined): ListedPeer {
  return {
    ...p,
    online: live ? live.online : null,
    latestHandshake: live ? live.latestHandshake : null,
    endpoint: live ? live.endpoint : null,
    rxBytes: live ? live.rxBytes : null,
    txBytes: live ? live.txBytes : null,
  };
}

/** A table with columns padded to their widest cell (the last one unpadded). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

/**
 * One table row per peer: name, tunnel address, state (online / offline when a gateway runs the
 * file, else active; disabled, expired), handshake, endpoint and transfer from the running
 * interface, expiry, whether its client config is current, public key, what it reaches and what
 * may reach it; then what holds for every peer.
 */
function peerTable(peers: readonly ListedPeer[], access: GatewayAccess | null, running: boolean, nowSec: number): string {
  const nets = access?.networks.join(', ') ?? 'the project networks';
  // The ENV column only when some peer may read project variables.
  const env = peers.some((p) => p.env.length > 0);
  const state = (p: ListedPeer): string => (p.state !== 'active' ? p.state : !running ? 'active' : p.online ? 'online' : 'offline');
  const handshake = (p: ListedPeer): string => (!p.latestHandshake ? (running && p.state === 'active' ? 'never' : '-') : nowSec <= p.latestHandshake ? 'now' : `${prettyDuration(nowSec - p.latestHandshake)} ago`);
  const transfer = (p: ListedPeer): string => (p.rxBytes === null || p.txBytes === null ? '-' : `${prettyBytes(p.rxBytes)} in, ${prettyBytes(p.txBytes)} out`);
  const config = (p: ListedPeer): string => (p.config === 'outdated' ? `OUTDATED (${p.outdated.join(', ')})` : p.config);
  const rows = [
    ['NAME', 'ADDRESS', 'STATE', ...(running ? ['HANDSHAKE', 'ENDPOINT', 'TRANSFER'] : []), 'EXPIRES', 'CONFIG', 'PUBLIC KEY', 'REACHES', 'INBOUND', ...(env ? ['ENV'] : [])],
    ...peers.map((p) => [
      p.name ?? '-',
      p.address ?? (p.allowedIPs.join(',') || '-'),
      state(p),
      ...(running ? [handshake(p), p.endpoint ?? '-', transfer(p)] : []),
      p.expires ?? '-',
      config(p),
      p.publicKey,
      p.allow.length ? p.allow.join(', ') : `${nets} (default)`,
      p.allowInbound.length ? p.allowInbound.join(', ') : '-',
      ...(env ? [p.env.length ? p.env.join(', ') : '-'] : []),
    ]),
  ];
  const dns = access?.dns ? `the gateway's DNS (${access.dns})` : "the gateway's DNS";
  const notes = [
    `Every peer also reaches ${dns}, and nothing else: not the gateway host (any of its addresses) unless a rule`,
    `names it (gateway:22/tcp = ${access?.gateway.join(', ') || 'its tunnel address'}), and no network behind it that is not listed.`,
    'INBOUND: connections the project may open to the laptop; answers to what the laptop starts always pass.',
  ];
  if (env) notes.push('ENV: the project variables the laptop may read (wgts env / wgts run); none without a grant.');
  if (running) notes.push('STATE online: a handshake within the last 3 minutes. disabled / expired peers are not on the interface.');
  if (peers.some((p) => p.config === 'outdated')) notes.push('CONFIG OUTDATED: the gateway changed since that laptop got its config; re-issue it: wgts peer config FILE NAME (same keys) or wgts peer rekey FILE NAME');
  return `${formatTable(rows)}\n\n${notes.join('\n')}\n`;
}

/** Prints the client config (its header says what to save it as) and its QR code, or where it was written. */
async function deliverConfig(r: { clientConfig: string }, flags: { out?: string; qr?: boolean }, wrote: string): Promise<void> {
  if (flags.out === undefined) {
    process.stdout.write(r.clientConfig);
  } else {
    process.stdout.write(`${wrote} to ${flags.out}\n`);
  }
  if (flags.qr) {
    if (flags.out === undefined) process.stdout.write('\n');
    await printQr(r.clientConfig);
  }
}

/** After disable / enable / set: waits until running gateways cut the peer off or let it back in. */
async function reportStanding(file: string, r: PeerChangeResult, since: number): Promise<void> {
  const who = r.name ?? r.publicKey;
  if (!r.changed) return;
  if (r.after === r.before || (r.before !== 'active' && r.after !== 'active')) {
    await reportApplied(file, r.version, since, 'applied it');
  } else if (r.after === 'active') {
    await reportApplied(file, r.version, since, `let ${who} back in`, (s) => waitForPeerPresent(s, r.publicKey));
  } else {
    await reportApplied(file, r.version, since, `cut ${who} off`, (s) => waitForPeerGone(s, r.publicKey));
  }
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
    .option('--expires <date>', EXPIRES_HELP)
    .action((file: string, name: string, flags: AddFlags) => runCommand(async () => {
      const now = Date.now();
      const expires = flags.expires === undefined ? undefined : expiresFlag(flags.expires, now);
      if (expires === 'never') throw new Error('--expires never: a new peer never expires unless --expires gives a date');
      const r = await addPeer(file, name, {
        allow: flags.allow ?? [], allowInbound: flags.allowInbound ?? [], env: flags.env ?? [], ...(flags.out === undefined ? {} : { out: flags.out }), force: flags.force === true,
        ...(expires === undefined ? {} : { expires }), now,
      });
      await deliverConfig(r, flags, `wrote the client config of ${r.name} (${[r.address, r.address6].filter(Boolean).join(', ')})`);
    }));

  peer
    .command('list')
    .description('list the peers of FILE: name, address, state (online, offline, disabled, expired), handshake, endpoint and transfer when a gateway runs FILE, expiry, whether its client config is current, public key, what each reaches and what may reach it')
    .argument('<file>', 'gateway config file')
    .option('--json', 'print a JSON array instead of a table')
    .action((file: string, flags: { json?: boolean }) => runCommand(async () => {
      const nowSec = Math.floor(Date.now() / 1000);
      const { peers, access } = await listGatewayPeers(file);
      const live = await livePeers(file, nowSec);
      for (const e of live.errors) process.stderr.write(`wgts: ${e}\n`);
      const rows = peers.map((p) => listed(p, live.peers.get(p.publicKey)));
      if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(peers.length ? peerTable(rows, access, live.interfaces.length > 0, nowSec) : `no peers in ${file}\n`);
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
        process.stdout.write(`no running gateway uses ${file}: nothing to cut off (\`wgts up ${file}\` starts without ${who})${elsewhere(file)}\n`);
        return;
      }
      const outcomes = await Promise.all(running.map((s) => waitForPeerGone(s, p.publicKey)));
      for (const o of outcomes) {
        if (o.kind === 'applied') process.stdout.write(`the running gateway ${o.ifname} (pid ${o.pid}) cut ${who} off (${o.ms} ms)\n`);
        else process.stderr.write(`wgts: the running gateway ${o.ifname} (pid ${o.pid}) has not removed ${who} within ${APPLY_TIMEOUT_S} s: ${o.why}\n`);
      }
      if (outcomes.some((o) => o.kind === 'timeout')) process.exitCode = 1;
    }));

  peer
    .command('disable')
    .description('cut a peer off (it stays in FILE with its keys, address and rules; `peer enable` brings it back); waits until a running gateway removed it')
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .action((file: string, ref: string) => runCommand(async () => {
      const since = Date.now();
      const r = await setPeerFlags(file, ref, { disabled: true }, since);
      process.stdout.write(r.changed ? `disabled ${r.name ?? r.publicKey} in ${file}\n` : `${r.name ?? r.publicKey} is disabled already\n`);
      await reportStanding(file, r, since);
    }));

  peer
    .command('enable')
    .description('let a disabled peer back in; an expired one needs --expires DATE|never; waits until a running gateway has it again')
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .option('--expires <date>', `${EXPIRES_HELP}, or never`)
    .action((file: string, ref: string, flags: { expires?: string }) => runCommand(async () => {
      const since = Date.now();
      const r = await setPeerFlags(file, ref, { disabled: false, ...(flags.expires === undefined ? {} : { expires: expiresFlag(flags.expires, since) }) }, since);
      process.stdout.write(`${r.name ?? r.publicKey} is ${r.after}${r.expires ? ` (expires ${r.expires})` : ''}\n`);
      await reportStanding(file, r, since);
    }));

  peer
    .command('set')
    .description("change a peer's expiry: --expires DATE|DURATION|never")
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .requiredOption('--expires <date>', `${EXPIRES_HELP}, or never`)
    .action((file: string, ref: string, flags: { expires: string }) => runCommand(async () => {
      const since = Date.now();
      const r = await setPeerFlags(file, ref, { expires: expiresFlag(flags.expires, since) }, since);
      process.stdout.write(`${r.name ?? r.publicKey}: expires ${r.expires ?? 'never'} (${r.after})\n`);
      await reportStanding(file, r, since);
    }));

  peer
    .command('rekey')
    .description('give a laptop a new key and preshared key (same name, address and rules) and print its new client config; the old key stops working at once')
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .option('--qr', 'also print the client config as a terminal QR code')
    .option('--out <path>', 'write the client config to PATH = DIR/IFNAME.conf (mode 0600) instead of stdout')
    .option('--force', 'with --out: replace an existing file')
    .action((file: string, ref: string, flags: { qr?: boolean; out?: string; force?: boolean }) => runCommand(async () => {
      const since = Date.now();
      const r = await rekeyPeer(file, ref, { ...(flags.out === undefined ? {} : { out: flags.out }), force: flags.force === true, now: since });
      await deliverConfig(r, flags, `wrote the new client config of ${r.name ?? r.publicKey}`);
      const who = r.name ?? r.publicKey;
      process.stderr.write(`wgts: ${who}: new public key ${r.publicKey}; the old key ${r.oldPublicKey} no longer works${r.state === 'active' ? '' : ` (the peer is ${r.state})`}\n`);
      if (runningFor(file).length > 0) {
        const outcomes = await Promise.all(runningFor(file).map((s) => waitForPeerGone(s, r.oldPublicKey)));
        for (const o of outcomes) {
          if (o.kind === 'applied') process.stderr.write(`wgts: the running gateway ${o.ifname} (pid ${o.pid}) dropped the old key (${o.ms} ms)\n`);
          else { process.stderr.write(`wgts: the running gateway ${o.ifname} (pid ${o.pid}) still has the old key after ${APPLY_TIMEOUT_S} s: ${o.why}\n`); process.exitCode = 1; }
        }
      }
    }));

  peer
    .command('config')
    .description("re-issue a laptop's client config after a gateway change, without secrets: the gateway does not store the laptop's private key (a placeholder line says where to paste it)")
    .argument('<file>', 'gateway config file')
    .argument('<peer>', 'peer name or base64 public key')
    .action((file: string, ref: string) => runCommand(async () => {
      const r = await reissueConfig(file, ref);
      process.stdout.write(r.text);
      const was = r.outdated.length ? ` (it was outdated: ${r.outdated.join(', ')})` : '';
      process.stderr.write(`wgts: save this config as ${r.confName} and paste the PrivateKey${r.text.includes('PresharedKey') ? ' and PresharedKey' : ''} line${r.text.includes('PresharedKey') ? 's' : ''} of the laptop's current config; recorded as issued to ${r.name ?? ref}${was}\n`);
    }));
}
