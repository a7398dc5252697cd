// Carrying an edit of the typed config over into the file's lines: syncDocument(doc, before, after)
// rewrites only the keys whose canonical values differ between `before` (what `doc` parses to) and
// `after`, so comments, order, spelling and every untouched line stay as they were. This is what
// lets the gateway's state be edited as a typed value (gateway/store.ts) whether it lives in a file
// or elsewhere.
//
// Peers are matched by PublicKey, else by Name (a re-keyed peer keeps its place and comments);
// a peer only in `before` is removed, one only in `after` appended.
import { ConfigError } from './errors.js';
import type { ConfigDocument, PeerConfig, WgtsConfig } from './model.js';
import {
  addPeer, gatewayEntries, interfaceEntries, peerEntries, removePeer, setKey, type Entry, type SectionRef,
} from './write.js';

/** Entries grouped by key, values in order. */
function grouped(entries: readonly Entry[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of entries) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

/** setKey for every key whose values differ; `last` keys are set after the others. */
function syncSection(doc: ConfigDocument, ref: SectionRef, before: readonly Entry[], after: readonly Entry[], last: readonly string[] = []): ConfigDocument {
  const a = grouped(before);
  const b = grouped(after);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => Number(last.includes(x)) - Number(last.includes(y)));
  let out = doc;
  for (const k of keys) {
    const was = a.get(k) ?? [];
    const now = b.get(k) ?? [];
    if (was.length === now.length && was.every((v, i) => v === now[i])) continue;
    out = setKey(out, ref, k, now.length === 0 ? null : now);
  }
  return out;
}

/** The peer of `pool` that `p` continues: same PublicKey, else same Name (any case). */
function match(p: PeerConfig, pool: readonly PeerConfig[]): PeerConfig | undefined {
  return pool.find((q) => q.publicKey === p.publicKey)
    ?? (p.name === undefined ? undefined : pool.find((q) => q.name?.toLowerCase() === p.name?.toLowerCase()));
}

/**
 * `doc` (which parses to `before`) edited to hold `after`. Throws ConfigError for what the lines
 * cannot express (a [Gateway] section removed).
 */
export function syncDocument(doc: ConfigDocument, before: WgtsConfig, after: WgtsConfig): ConfigDocument {
  let out = syncSection(doc, 'Interface', interfaceEntries(before.interface), interfaceEntries(after.interface));
  if (before.gateway && !after.gateway) throw new ConfigError(doc.file, 0, 'missing-section', 'an edit cannot remove the [Gateway] section');
  if (after.gateway) out = syncSection(out, 'Gateway', before.gateway ? gatewayEntries(before.gateway) : [], gatewayEntries(after.gateway));
  const left = [...before.peers];
  const added: PeerConfig[] = [];
  for (const p of after.peers) {
    const old = match(p, left);
    if (!old) { added.push(p); continue; }
    left.splice(left.indexOf(old), 1);
    // Addressed by the old key; the PublicKey line itself changes last.
    out = syncSection(out, { peer: old.publicKey }, peerEntries(old), peerEntries(p), ['PublicKey']);
  }
  for (const p of left) out = removePeer(out, p.publicKey);
  for (const p of added) out = addPeer(out, p);
  return out;
}
