// Parses the wg-quick(8) file format with the wgts extensions ([Gateway]; Name and Allow in
// [Peer]) into a typed WgtsConfig plus a lossless ConfigDocument. Never throws on bad content:
// every problem becomes a ConfigError at its FILE:LINE, and all of them are reported at once.
//
// Rules beyond the per-key ones in schema.ts: exactly one [Interface]; at most one [Gateway]
// (which needs a Network, and whose ListenDns must be a tunnel address or a wildcard); at most one
// [Env] (which needs a Source, and a [Gateway] in the same file); every
// [Peer] needs a PublicKey; no two peers share a PublicKey or a Name (names compare
// case-insensitively). Keys and section names are case-insensitive.
import { ConfigError, type ConfigErrorCode } from './errors.js';
import type {
  ConfigDocument, DocLine, DocSection, EnvConfig, GatewayConfig, InterfaceConfig, PeerConfig, SectionKind, WgtsConfig,
} from './model.js';
import { SCHEMA, keyInfo, sectionKind, type ApplyContext, type KeyInfo } from './schema.js';
import { lineShape, splitLines } from './syntax.js';

/** A parse outcome: on success both views of the file; otherwise every error found. */
export type ParseResult =
  | { ok: true; config: WgtsConfig; doc: ConfigDocument; warnings: ConfigError[] }
  | { ok: false; errors: ConfigError[]; warnings: ConfigError[] };

/** The section being read, with the typed object its keys fill in. */
type Current =
  | { kind: 'Interface'; target: InterfaceConfig }
  | { kind: 'Peer'; target: PeerConfig }
  | { kind: 'Gateway'; target: GatewayConfig }
  | { kind: 'Env'; target: EnvConfig };

interface SectionBuild {
  kind: SectionKind;
  leading: DocLine[];
  header: DocLine;
  headerLine: number;
  body: DocLine[];
  /** Lower-case key -> line of its first occurrence, for duplicate reports. */
  seen: Map<string, number>;
}

/** An empty InterfaceConfig (the starting point for parsing, and for configs built in code). */
export function emptyInterface(): InterfaceConfig {
  return { addresses: [], dns: [], dnsSearch: [], preUp: [], postUp: [], preDown: [], postDown: [], saveConfig: false };
}

/** Moves the comment lines at the end of `from` (up to a blank or other line) into a new array. */
function takeTrailingComments(from: DocLine[]): DocLine[] {
  let i = from.length;
  while (i > 0 && lineShape(from[i - 1].text).kind === 'comment') i--;
  return from.splice(i);
}

/** Applies the value of one `Key = Value` line (each item of a list key) to the current section. */
function applyEntry(cur: Current, info: KeyInfo, value: string, ctx: ApplyContext): string | null {
  const key = info.name.toLowerCase();
  for (const item of info.list ? value.split(',').map((s) => s.trim()) : [value]) {
    if (item === '') return `empty item in the list '${value}'`;
    let err: string | null | undefined;
    switch (cur.kind) {
      case 'Interface': err = SCHEMA.Interface.get(key)?.apply(cur.target, item, ctx); break;
      case 'Peer': err = SCHEMA.Peer.get(key)?.apply(cur.target, item, ctx); break;
      case 'Gateway': err = SCHEMA.Gateway.get(key)?.apply(cur.target, item, ctx); break;
      case 'Env': err = SCHEMA.Env.get(key)?.apply(cur.target, item, ctx); break;
    }
    if (err) return err;
  }
  return null;
}

/** Parses `text`; `file` is only used in error messages. */
export function parseConfig(text: string, file: string): ParseResult {
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const error = (line: number, code: ConfigErrorCode, reason: string): void => {
    errors.push(new ConfigError(file, line, code, reason));
  };

  const head: DocLine[] = [];
  const sections: SectionBuild[] = [];
  let iface: InterfaceConfig | undefined;
  let gateway: GatewayConfig | undefined;
  let env: EnvConfig | undefined;
  const peers: PeerConfig[] = [];
  let cur: Current | null = null;
  /** After an unknown section header: its keys are not reported again, one by one. */
  let skipping = false;
  const peerKeys = new Map<string, number>();
  const peerNames = new Map<string, number>();

  const finishSection = (): void => {
    const s = sections[sections.length - 1];
    if (!cur || !s) return;
    if (cur.kind === 'Peer' && !s.seen.has('publickey')) error(s.headerLine, 'missing-key', '[Peer] has no PublicKey');
    if (cur.kind === 'Gateway' && !s.seen.has('network')) error(s.headerLine, 'missing-key', '[Gateway] has no Network');
    if (cur.kind === 'Env' && !s.seen.has('source')) error(s.headerLine, 'missing-key', '[Env] has no Source');
  };

  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const n = i + 1;
    const container = sections.length ? sections[sections.length - 1].body : head;
    const shape = lineShape(line.text);
    switch (shape.kind) {
      case 'blank':
      case 'comment':
        container.push(line);
        break;
      case 'invalid':
        error(n, 'syntax', shape.reason);
        container.push(line);
        break;
      case 'header': {
        finishSection();
        const kind = sectionKind(shape.name);
        const leading = takeTrailingComments(container);
        cur = null;
        skipping = kind === undefined;
        if (kind === undefined) {
          error(n, 'unknown-section', `unknown section [${shape.name}] (expected [Interface], [Peer], [Gateway] or [Env])`);
          container.push(...leading, line);
          break;
        }
        const first = kind === 'Peer' ? undefined : sections.find((s) => s.kind === kind);
        if (first) error(n, 'duplicate-section', `second [${kind}] section (the first is at line ${first.headerLine})`);
        sections.push({ kind, leading, header: line, headerLine: n, body: [], seen: new Map() });
        if (kind === 'Interface') {
          iface = emptyInterface();
          cur = { kind, target: iface };
        } else if (kind === 'Gateway') {
          gateway = { networks: [], hosts: [], masquerade: true };
          cur = { kind, target: gateway };
        } else if (kind === 'Env') {
          env = { sources: [] };
          cur = { kind, target: env };
        } else {
          const peer: PeerConfig = { publicKey: '', allowedIPs: [], allow: [], source: { line: n, allowLines: [] } };
          peers.push(peer);
          cur = { kind, target: peer };
        }
        break;
      }
      case 'entry': {
        container.push(line);
        if (!cur) {
          if (!skipping) error(n, 'outside-section', `'${shape.key}' is outside a section (put it under [Interface] or [Peer])`);
          break;
        }
        const info = keyInfo(cur.kind, shape.key);
        if (!info) {
          error(n, 'unknown-key', `unknown key '${shape.key}' in [${cur.kind}]`);
          break;
        }
        const s = sections[sections.length - 1];
        const lower = info.name.toLowerCase();
        const firstLine = s.seen.get(lower);
        if (firstLine !== undefined && !info.repeatable) {
          error(n, 'duplicate-key', `${info.name} is set twice in this section (first at line ${firstLine})`);
          break;
        }
        if (firstLine === undefined) s.seen.set(lower, n);
        if (shape.value === '') {
          error(n, 'bad-value', `${info.name} needs a value`);
          break;
        }
        const ctx: ApplyContext = { line: n, warn: (reason) => warnings.push(new ConfigError(file, n, 'host-bits', reason)) };
        const err = applyEntry(cur, info, shape.value, ctx);
        if (err) {
          error(n, 'bad-value', `bad ${info.name}: ${err}`);
          break;
        }
        if (cur.kind === 'Peer' && (lower === 'publickey' || lower === 'name')) {
          const seen = lower === 'publickey' ? peerKeys : peerNames;
          const id = lower === 'publickey' ? cur.target.publicKey : shape.value.toLowerCase();
          const other = seen.get(id);
          if (other !== undefined) error(n, 'duplicate-peer', `another peer has this ${info.name} (line ${other})`);
          else seen.set(id, n);
        }
        break;
      }
    }
  }
  finishSection();
  if (!iface) error(1, 'missing-section', 'no [Interface] section');
  const listenLine = sections.find((s) => s.kind === 'Gateway')?.seen.get('listendns');
  const listen = gateway?.listenDns?.host;
  if (iface && listen !== undefined && listenLine !== undefined && listen !== '0.0.0.0' && listen !== '::'
    && !iface.addresses.some((a) => a.address === listen)) {
    error(listenLine, 'bad-value', `bad ListenDns: ${listen} is not one of this gateway's tunnel addresses (Address =), the only addresses laptops send DNS to; name one of them, 0.0.0.0 or ::, or leave ListenDns out (the DNS then listens on every tunnel address)`);
  }

  const envLine = sections.find((s) => s.kind === 'Env')?.headerLine;
  if (env && !gateway && envLine !== undefined) {
    error(envLine, 'missing-section', '[Env] needs a [Gateway] section: only a gateway serves project variables');
  }

  if (errors.length > 0 || !iface) return { ok: false, errors, warnings };
  const config: WgtsConfig = { interface: iface, peers };
  if (gateway) config.gateway = gateway;
  if (env) config.env = env;
  const doc: ConfigDocument = {
    file,
    head,
    sections: sections.map((s): DocSection => ({ kind: s.kind, leading: s.leading, header: s.header, body: s.body })),
  };
  return { ok: true, config, doc, warnings };
}
