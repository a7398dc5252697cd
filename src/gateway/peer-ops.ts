// Peers over time, as store transactions (store.ts): disable / enable / set --expires (the peer stays
// in the file, a running gateway cuts it off or lets it back in), rekey (a new laptop key and
// preshared key for the same name, address and rules: the old key stops working), and config (the
// client config re-issued without its secrets, which the gateway does not hold).
import { issuedChanges } from '../config/issued.js';
import type { PeerConfig } from '../config/model.js';
import { formatTimestamp } from '../config/time.js';
import {
  clientConfigText, clientHeader, clientView, PRESHARED_KEY_PLACEHOLDER, PRIVATE_KEY_PLACEHOLDER,
} from './client-config.js';
import { checkOutFor, findPeer, issueClientConfig, newLaptopKeys, writeClientConfig } from './onboard.js';
import { OnboardError } from './onboard-errors.js';
import { peerState, type PeerState } from './peer-state.js';
import { projectConfName, projectName } from './project.js';
import { storeFor } from './store.js';

/** A peer's identity and state before and after a change. */
export interface PeerChangeResult {
  name: string | null;
  publicKey: string;
  before: PeerState;
  after: PeerState;
  /** `Expires =` after the change (2026-12-31T00:00:00Z), null for never. */
  expires: string | null;
  /** The store changed (false: it was already so). */
  changed: boolean;
  /** The version of the store after the change. */
  version: string;
}

/** What to change of a peer's standing. */
export interface PeerFlags {
  /** true = Disabled = true; false = the Disabled line goes. */
  disabled?: boolean;
  /** A new `Expires =` (ms), or 'never' to remove it. */
  expires?: number | 'never';
}

const label = (p: PeerConfig): string => p.name ?? p.publicKey;

/**
 * Disables, enables or re-times a peer in one transaction. Enabling a peer whose expiry has passed
 * needs a new `expires` (OnboardError 'peer-expired' says so); a new expiry must be in the future.
 */
export async function setPeerFlags(file: string, ref: string, flags: PeerFlags, now = Date.now()): Promise<PeerChangeResult> {
  if (typeof flags.expires === 'number' && flags.expires <= now) {
    throw new OnboardError('bad-option', `--expires ${formatTimestamp(flags.expires)} is not in the future (to cut ${ref} off now: wgts peer disable ${file} ${ref})`);
  }
  const done = await storeFor(file).edit((config) => {
    const peer = findPeer(config, file, ref);
    const before = peerState(peer, now);
    if (flags.disabled === true) peer.disabled = true;
    if (flags.disabled === false) delete peer.disabled;
    if (flags.expires === 'never') delete peer.expires;
    else if (flags.expires !== undefined) peer.expires = flags.expires;
    const after = peerState(peer, now);
    if (flags.disabled === false && after === 'expired') {
      throw new OnboardError('peer-expired', `${label(peer)} expired at ${formatTimestamp(peer.expires ?? 0)}; enable it with a new date: wgts peer enable ${file} ${ref} --expires DATE (or --expires never)`);
    }
    return {
      config,
      value: { name: peer.name ?? null, publicKey: peer.publicKey, before, after, expires: peer.expires === undefined ? null : formatTimestamp(peer.expires) },
    };
  });
  return { ...done.value, changed: done.changed, version: done.version };
}

/** Options of rekeyPeer. */
export interface RekeyOptions {
  /** Also write the client config here (as `peer add --out`). */
  out?: string;
  force?: boolean;
  now?: number;
}

/** What rekeyPeer did. */
export interface RekeyResult {
  name: string | null;
  oldPublicKey: string;
  publicKey: string;
  /** The new client config, holding the new private key. */
  clientConfig: string;
  confName: string;
  /** The peer's standing (a disabled or expired peer stays so with its new key). */
  state: PeerState;
  version: string;
}

/**
 * Gives a peer a new laptop key and preshared key (same name, address, rules, flags) in one
 * transaction and returns its new client config; a running gateway drops the old key (and its
 * sessions) and takes the new one. When writing `out` fails, the old keys are put back.
 */
export async function rekeyPeer(file: string, ref: string, opts: RekeyOptions = {}): Promise<RekeyResult> {
  const now = opts.now ?? Date.now();
  const store = storeFor(file);
  if (opts.out !== undefined) await checkOutFor(file, opts.out, opts.force === true);
  const { privateKey, publicKey: newPublic, presharedKey: psk } = newLaptopKeys();
  const done = await store.edit((config) => {
    const peer = findPeer(config, file, ref);
    const old = { publicKey: peer.publicKey, presharedKey: peer.presharedKey, issued: peer.issued };
    peer.publicKey = newPublic;
    peer.presharedKey = psk;
    const issued = issueClientConfig(config, peer, file, privateKey);
    peer.issued = { at: now, ...issued.view };
    return {
      config,
      value: { old, name: peer.name ?? null, text: issued.text, confName: projectConfName(projectName(config, file)), state: peerState(peer, now) },
    };
  });
  const v = done.value;
  if (opts.out !== undefined) {
    await writeClientConfig(opts.out, v.text, opts.force === true, () => store.edit((config) => {
      const peer = findPeer(config, file, newPublic);
      peer.publicKey = v.old.publicKey;
      if (v.old.presharedKey === undefined) delete peer.presharedKey;
      else peer.presharedKey = v.old.presharedKey;
      if (v.old.issued === undefined) delete peer.issued;
      else peer.issued = v.old.issued;
      return { config, value: null };
    }).then(() => 'the old keys were put back', (u: unknown) => `putting the old keys back failed too (${u instanceof Error ? u.message : String(u)})`));
  }
  return { name: v.name, oldPublicKey: v.old.publicKey, publicKey: newPublic, clientConfig: v.text, confName: v.confName, state: v.state, version: done.version };
}

/** What reissueConfig did. */
export interface ReissueResult {
  name: string | null;
  /** The client config without secrets: PrivateKey (and PresharedKey) are placeholders. */
  text: string;
  confName: string;
  /** What had changed since the previous issue (empty when it was current or unknown). */
  outdated: string[];
  version: string;
}

/**
 * The client config of a peer as the gateway would issue it now, without the secrets it does not
 * hold (the laptop's private key) or should not print (the preshared key): placeholder lines the
 * user fills in from the current config. Recorded as issued (Issued =), so `peer list` shows the
 * laptop as current once this text is handed over.
 */
export async function reissueConfig(file: string, ref: string, now = Date.now()): Promise<ReissueResult> {
  const done = await storeFor(file).edit((config) => {
    const peer = findPeer(config, file, ref);
    const view = clientView(config, peer, file);
    const project = projectName(config, file);
    const outdated = peer.issued ? issuedChanges(peer.issued, view) : [];
    const header = [
      ...clientHeader(project, label(peer)),
      '# Re-issued by `wgts peer config`: the gateway does not store the laptop\'s private key, so the',
      '# PrivateKey (and PresharedKey) lines below are placeholders: copy them from the config you have.',
      '# Lost it? `wgts peer rekey` on the gateway issues new keys.',
    ];
    const secrets = peer.presharedKey === undefined ? { privateKey: PRIVATE_KEY_PLACEHOLDER } : { privateKey: PRIVATE_KEY_PLACEHOLDER, presharedKey: PRESHARED_KEY_PLACEHOLDER };
    peer.issued = { at: now, ...view };
    return { config, value: { name: peer.name ?? null, text: clientConfigText(view, secrets, header), confName: projectConfName(project), outdated: [...outdated] } };
  });
  return { ...done.value, version: done.version };
}
