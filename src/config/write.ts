// Writing config files: formatting both views back to text, editing a ConfigDocument while
// keeping every untouched line byte for byte, replacing a file atomically, and the locked
// read-modify-write cycle that commands such as `wgts peer add` use.
//
// Edits do not check values (the reparse in editConfigFile does, and reports FILE:LINE of the
// edited text); they only refuse values that would break the line structure (`#`, line breaks,
// empty), keys the section does not have, and references to sections that do not exist.
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './errors.js';
import { formatCidr, formatDnsServer, formatHostPort } from './ip.js';
import { formatIssued } from './issued.js';
import { formatTimestamp } from './time.js';
import { processAlive, withFileLock, type LockOptions } from './lock.js';
import type {
  ConfigDocument, DocLine, DocSection, EnvConfig, GatewayConfig, InterfaceConfig, PeerConfig, SectionKind, WgtsConfig,
} from './model.js';
import { parseConfig, type ParseResult } from './parse.js';
import { keyInfo } from './schema.js';
import { lineShape } from './syntax.js';

/** The text of a document: exactly the original bytes where nothing was edited. */
export function formatDocument(doc: ConfigDocument): string {
  let out = '';
  const add = (lines: readonly DocLine[]): void => { for (const l of lines) out += l.text + l.eol; };
  add(doc.head);
  for (const s of doc.sections) {
    add(s.leading);
    add([s.header]);
    add(s.body);
  }
  return out;
}

/** One `Key = Value` line of a section, in canonical spelling. */
export type Entry = [key: string, value: string];

/** The lines of an [Interface] section for a typed value. */
export function interfaceEntries(i: InterfaceConfig): Entry[] {
  const e: Entry[] = [];
  if (i.privateKey !== undefined) e.push(['PrivateKey', i.privateKey]);
  if (i.listenPort !== undefined) e.push(['ListenPort', String(i.listenPort)]);
  if (i.fwMark !== undefined) e.push(['FwMark', String(i.fwMark)]);
  if (i.addresses.length) e.push(['Address', i.addresses.map(formatCidr).join(', ')]);
  if (i.dns.length || i.dnsSearch.length) e.push(['DNS', [...i.dns, ...i.dnsSearch].join(', ')]);
  if (i.mtu !== undefined) e.push(['MTU', String(i.mtu)]);
  if (i.table !== undefined) e.push(['Table', i.table]);
  if (i.saveConfig) e.push(['SaveConfig', 'true']);
  for (const [key, cmds] of [['PreUp', i.preUp], ['PostUp', i.postUp], ['PreDown', i.preDown], ['PostDown', i.postDown]] as const) {
    for (const c of cmds) e.push([key, c]);
  }
  return e;
}

/** The lines of a [Gateway] section for a typed value. */
export function gatewayEntries(g: GatewayConfig): Entry[] {
  const e: Entry[] = [];
  if (g.name !== undefined) e.push(['Name', g.name]);
  e.push(['Network', g.networks.map(formatCidr).join(', ')]);
  if (g.domain !== undefined) e.push(['Domain', g.domain]);
  if (g.endpoint !== undefined) e.push(['Endpoint', formatHostPort(g.endpoint)]);
  for (const h of g.hosts) e.push(['Host', `${h.name}=${h.address}`]);
  if (!g.masquerade) e.push(['Masquerade', 'false']);
  if (g.upstream !== undefined) e.push(['Upstream', g.upstream === 'none' ? 'none' : g.upstream.map(formatDnsServer).join(', ')]);
  if (g.listenDns !== undefined) e.push(['ListenDns', formatHostPort(g.listenDns)]);
  if (g.metrics !== undefined) e.push(['Metrics', formatHostPort(g.metrics)]);
  return e;
}

/** The lines of a [Peer] section for a typed value. */
export function peerEntries(p: PeerConfig): Entry[] {
  const e: Entry[] = [];
  if (p.name !== undefined) e.push(['Name', p.name]);
  e.push(['PublicKey', p.publicKey]);
  if (p.presharedKey !== undefined) e.push(['PresharedKey', p.presharedKey]);
  if (p.allowedIPs.length) e.push(['AllowedIPs', p.allowedIPs.map(formatCidr).join(', ')]);
  if (p.endpoint !== undefined) e.push(['Endpoint', formatHostPort(p.endpoint)]);
  if (p.persistentKeepalive !== undefined) e.push(['PersistentKeepalive', String(p.persistentKeepalive)]);
  for (const rule of p.allow) e.push(['Allow', rule]);
  for (const rule of p.allowInbound ?? []) e.push(['AllowInbound', rule]);
  if (p.disabled === true) e.push(['Disabled', 'true']);
  if (p.expires !== undefined) e.push(['Expires', formatTimestamp(p.expires)]);
  if (p.issued !== undefined) e.push(['Issued', formatIssued(p.issued)]);
  for (const grant of p.env ?? []) e.push(['Env', grant]);
  return e;
}

function envEntries(env: EnvConfig): Entry[] {
  const e: Entry[] = env.sources.map((s): Entry => ['Source', s.kind === 'file' ? `${s.service}:${s.path}` : `env:${s.prefix}`]);
  if (env.port !== undefined) e.push(['Port', String(env.port)]);
  return e;
}

/**
 * A fresh file for a typed config (no comments; one `Key = Value` per line; sections
 * [Interface], [Gateway], [Env], then the peers, separated by blank lines). Used for generated files
 * such as a new peer's own config; parsing the result gives back an equal config.
 */
export function formatConfig(config: WgtsConfig): string {
  const block = (header: string, entries: Entry[]): string =>
    `[${header}]\n${entries.map(([k, v]) => `${k} = ${v}\n`).join('')}`;
  const blocks = [block('Interface', interfaceEntries(config.interface))];
  if (config.gateway) blocks.push(block('Gateway', gatewayEntries(config.gateway)));
  if (config.env) blocks.push(block('Env', envEntries(config.env)));
  for (const p of config.peers) blocks.push(block('Peer', peerEntries(p)));
  return blocks.join('\n');
}

/** The line ending new lines get: the document's first one, else LF. */
function docEol(doc: ConfigDocument): '\n' | '\r\n' {
  for (const l of [...doc.head, ...doc.sections.flatMap((s) => [...s.leading, s.header, ...s.body])]) {
    if (l.eol !== '') return l.eol;
  }
  return '\n';
}

/** Rejects a value that cannot sit on one config line as written. */
function checkLineValue(doc: ConfigDocument, key: string, value: string): void {
  if (value.trim() === '' || value !== value.trim() || /[#\r\n]/.test(value)) {
    throw new ConfigError(doc.file, 0, 'bad-value', `${key} value ${JSON.stringify(value)} cannot be written on one line (empty, padded, or holding '#' or a line break)`);
  }
}

/** The document with its last line given a line ending, so that lines can be added after it. */
function withFinalEol(doc: ConfigDocument): ConfigDocument {
  const eol = docEol(doc);
  const fix = (lines: readonly DocLine[]): DocLine[] =>
    lines.map((l, i) => (i === lines.length - 1 && l.eol === '' ? { text: l.text, eol } : l));
  const last = doc.sections[doc.sections.length - 1];
  if (!last) return { ...doc, head: fix(doc.head) };
  const fixed: DocSection = last.body.length ? { ...last, body: fix(last.body) } : { ...last, header: fix([last.header])[0] };
  return { ...doc, sections: [...doc.sections.slice(0, -1), fixed] };
}

const isBlank = (l: DocLine): boolean => lineShape(l.text).kind === 'blank';

/**
 * Inserts a section at position `index`, separated by one blank line from what precedes it (added
 * to the preceding lines unless they already end with one) and from a section that follows.
 */
function insertSection(original: ConfigDocument, index: number, kind: SectionKind, entries: Entry[], comment: string | undefined): ConfigDocument {
  const doc = withFinalEol(original);
  const eol = docEol(doc);
  const line = (text: string): DocLine => ({ text, eol });
  const sections = [...doc.sections];
  const prev = index > 0 ? sections[index - 1] : undefined;
  const before = prev ? [prev.header, ...prev.body] : doc.head;
  const separator = before.length > 0 && !isBlank(before[before.length - 1]) ? [line('')] : [];
  let head = doc.head;
  if (prev) sections[index - 1] = { ...prev, body: [...prev.body, ...separator] };
  else head = [...head, ...separator];
  const body = entries.map(([k, v]) => line(`${k} = ${v}`));
  if (index < sections.length) body.push(line(''));
  const leading = comment === undefined ? [] : comment.split('\n').map((c) => line(c === '' ? '#' : `# ${c}`));
  sections.splice(index, 0, { kind, leading, header: line(`[${kind}]`), body });
  return { file: doc.file, head, sections };
}

/** The value of the first `key` entry (any case) in a section's body. */
function entryValue(s: DocSection, key: string): string | undefined {
  for (const l of s.body) {
    const shape = lineShape(l.text);
    if (shape.kind === 'entry' && shape.key.toLowerCase() === key) return shape.value;
  }
  return undefined;
}

/** Index of the peer whose PublicKey equals `ref`, else whose Name equals it (any case); -1 if none. */
function findPeer(doc: ConfigDocument, ref: string): number {
  const peers = doc.sections.map((s, i) => ({ s, i })).filter(({ s }) => s.kind === 'Peer');
  const byKey = peers.find(({ s }) => entryValue(s, 'publickey') === ref);
  const byName = peers.find(({ s }) => entryValue(s, 'name')?.toLowerCase() === ref.toLowerCase());
  return (byKey ?? byName)?.i ?? -1;
}

/**
 * Appends a [Peer] section for `peer` at the end of the file, after one blank line. `comment`
 * (may have several lines) is written as `# ...` lines directly above the header, so it belongs
 * to the peer and is removed with it.
 */
export function addPeer(doc: ConfigDocument, peer: PeerConfig, comment?: string): ConfigDocument {
  const entries = peerEntries(peer);
  for (const [k, v] of entries) checkLineValue(doc, k, v);
  if (comment?.includes('\r')) throw new ConfigError(doc.file, 0, 'bad-value', 'a peer comment cannot hold a carriage return');
  return insertSection(doc, doc.sections.length, 'Peer', entries, comment);
}

/**
 * Removes the peer whose PublicKey (first) or Name is `ref`: its leading comment lines (comments
 * directly above the header, no blank line between), the header, and its body up to the next
 * section's leading comments. When it was the last section, the blank lines that separated it
 * from the previous content go too, so that addPeer followed by removePeer restores the file.
 * Throws ConfigError 'no-such-peer' when no peer matches.
 */
export function removePeer(doc: ConfigDocument, ref: string): ConfigDocument {
  const index = findPeer(doc, ref);
  if (index < 0) throw new ConfigError(doc.file, 0, 'no-such-peer', `no peer with PublicKey or Name '${ref}'`);
  const sections = [...doc.sections];
  sections.splice(index, 1);
  let head = doc.head;
  if (index === sections.length) {
    const trim = (lines: readonly DocLine[]): DocLine[] => {
      let end = lines.length;
      while (end > 0 && isBlank(lines[end - 1])) end--;
      return lines.slice(0, end);
    };
    if (index > 0) sections[index - 1] = { ...sections[index - 1], body: trim(sections[index - 1].body) };
    else head = trim(head);
  }
  return { file: doc.file, head, sections };
}

/** Which section an edit addresses: the [Interface], the [Gateway], or a peer by PublicKey or Name. */
export type SectionRef = 'Interface' | 'Gateway' | { peer: string };

/**
 * Sets `key` in a section: `value` null removes every line of the key; a string replaces the
 * value of its first line (keeping that line's indentation, spelling, spacing and trailing
 * comment) and removes its other lines; an array (for repeatable keys) writes one line per item
 * where the first line was. A key the section lacks is added after the section's last entry.
 * A missing [Gateway] is created after the [Interface]. Throws ConfigError for a key the section
 * does not have, several values for a single-valued key, a value that cannot sit on one line, or
 * a peer or [Interface] that does not exist.
 */
export function setKey(doc: ConfigDocument, ref: SectionRef, key: string, value: string | readonly string[] | null): ConfigDocument {
  const kind: SectionKind = typeof ref === 'string' ? ref : 'Peer';
  const info = keyInfo(kind, key);
  if (!info) throw new ConfigError(doc.file, 0, 'unknown-key', `unknown key '${key}' in [${kind}]`);
  const values = value === null ? [] : typeof value === 'string' ? [value] : [...value];
  if (values.length > 1 && !info.repeatable) {
    throw new ConfigError(doc.file, 0, 'bad-value', `${info.name} takes one value, got ${values.length}`);
  }
  for (const v of values) checkLineValue(doc, info.name, v);

  const index = typeof ref === 'string' ? doc.sections.findIndex((s) => s.kind === ref) : findPeer(doc, ref.peer);
  if (index < 0) {
    if (typeof ref !== 'string') throw new ConfigError(doc.file, 0, 'no-such-peer', `no peer with PublicKey or Name '${ref.peer}'`);
    if (ref === 'Interface') throw new ConfigError(doc.file, 0, 'missing-section', 'no [Interface] section');
    if (values.length === 0) return doc;
    const ifaceAt = doc.sections.findIndex((s) => s.kind === 'Interface');
    return insertSection(doc, ifaceAt + 1, 'Gateway', values.map((v) => [info.name, v]), undefined);
  }

  const section = doc.sections[index];
  const eol = docEol(doc);
  const lower = info.name.toLowerCase();
  const body: DocLine[] = [];
  let header = section.header;
  let placed = false;
  let lastEntry = -1;
  for (const l of section.body) {
    const shape = lineShape(l.text);
    if (shape.kind === 'entry' && shape.key.toLowerCase() === lower) {
      if (!placed) {
        placed = true;
        const prefix = l.text.slice(0, shape.valueStart);
        const suffix = l.text.slice(shape.valueEnd);
        values.forEach((v, i) => body.push({ text: prefix + v + suffix, eol: i === values.length - 1 ? l.eol : eol }));
      }
      continue;
    }
    body.push(l);
    if (shape.kind === 'entry') lastEntry = body.length - 1;
  }
  if (!placed && values.length > 0) {
    // New lines go after the last entry; a line that had no ending (end of file) gets one.
    const at = lastEntry + 1;
    if (at === 0 && header.eol === '') header = { text: header.text, eol };
    if (at > 0 && body[at - 1].eol === '') body[at - 1] = { text: body[at - 1].text, eol };
    body.splice(at, 0, ...values.map((v): DocLine => ({ text: `${info.name} = ${v}`, eol })));
  }
  const sections = [...doc.sections];
  sections[index] = { ...section, header, body };
  return { ...doc, sections };
}

/** Name of writeFileAtomic's temp file for `base` in process `pid`: hidden, in the target directory. */
const tempName = (base: string, pid: number): string => `.${base}.${pid}.${randomBytes(6).toString('hex')}.tmp`;

/** Whether `name` (in the directory of `base`) is a temp file of a writer of `base` that died mid-write (kill -9, crash). */
function deadWritersTemp(name: string, base: string): boolean {
  const prefix = `.${base}.`;
  if (!name.startsWith(prefix)) return false;
  const m = /^([0-9]+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
  return m !== null && !processAlive(Number(m[1]));
}

/** Removes temp files that a writer of `base` left behind when it died mid-write. */
async function removeDeadWritersTemps(dir: string, base: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (deadWritersTemp(name, base)) await unlink(join(dir, name)).catch(() => undefined);
  }
}

/**
 * Replaces the file at `path` with `data` so that readers, and the file after a crash or power
 * loss at any moment, see either the old content or the new one, never a mix: the data goes to
 * a temp file in the same directory (created with `mode`, then chmod-ed so the umask does not
 * matter), is fsync-ed, renamed over `path`, and the directory is fsync-ed so the rename itself
 * is durable. Temp files of writers that died are removed first.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  await removeDeadWritersTemps(dir, basename(path));
  const tmp = join(dir, tempName(basename(path), process.pid));
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * writeFileAtomic, synchronously: for the few writers that cannot wait (an 'exit' handler
 * restoring a file). The same temp name, steps and guarantees.
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode: number): void {
  const dir = dirname(path);
  for (const name of readdirSync(dir)) {
    if (deadWritersTemp(name, basename(path))) rmSync(join(dir, name), { force: true });
  }
  const tmp = join(dir, tempName(basename(path), process.pid));
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      fchmodSync(fd, mode);
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Whether a config holds secrets (a private or preshared key), so its file must be private. */
function hasSecrets(c: WgtsConfig): boolean {
  return c.interface.privateKey !== undefined || c.peers.some((p) => p.presharedKey !== undefined);
}

/**
 * One locked read-modify-write cycle on a config file: takes the lock (see lock.ts), reads and
 * parses the file, applies `edit` to its document, parses the edited text again and, only when
 * that succeeds and the text changed, writes it with writeFileAtomic. The file keeps its
 * permission bits, minus group and other bits when it holds secrets (0644 becomes 0600).
 *
 * Returns the parse result of the file as it now is; `ok: false` carries the errors of the
 * current file, a ConfigError thrown by `edit`, or the errors of the edited text (lines of the
 * edited text; the file is then left untouched). I/O errors and lock time-outs are thrown.
 */
export async function editConfigFile(
  path: string,
  edit: (doc: ConfigDocument, config: WgtsConfig) => ConfigDocument,
  opts: LockOptions = {},
): Promise<ParseResult> {
  return withFileLock(path, async () => {
    const text = await readFile(path, 'utf8');
    const { mode } = await stat(path);
    const current = parseConfig(text, path);
    if (!current.ok) return current;
    let edited: ConfigDocument;
    try {
      edited = edit(current.doc, current.config);
    } catch (e) {
      if (e instanceof ConfigError) return { ok: false, errors: [e], warnings: [] };
      throw e;
    }
    const next = formatDocument(edited);
    const result = parseConfig(next, path);
    if (result.ok && next !== text) {
      await writeFileAtomic(path, next, hasSecrets(result.config) ? mode & 0o700 : mode & 0o777);
    }
    return result;
  }, opts);
}
