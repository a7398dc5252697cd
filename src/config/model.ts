// The two views of a wg-quick config file that parse.ts produces:
// - WgtsConfig: typed, validated values for the layers that act on them (device, gateway, cli);
// - ConfigDocument: the file's lines as written (comments, blank lines, order, line endings), so
//   an edit rewrites only what it touches and an unchanged document formats back byte for byte.
import type { Cidr, HostPort } from './ip.js';

/** [Interface]: the wg(8) device keys plus the wg-quick(8) ones (addresses, DNS, MTU, hooks). */
export interface InterfaceConfig {
  /** Canonical base64 of the 32-byte private key. */
  privateKey?: string;
  /** 0 asks for a random port, as with wg. */
  listenPort?: number;
  /** `off` is stored as 0. */
  fwMark?: number;
  /** Interface addresses; host bits are meaningful here (10.0.0.1/24). A bare IP means /32 or /128. */
  addresses: Cidr[];
  /** DNS server addresses (canonical IP text). */
  dns: string[];
  /** DNS search domains (the non-IP entries of DNS =), lower case. */
  dnsSearch: string[];
  mtu?: number;
  /** `off`, `auto`, a table number or a table name, as written. */
  table?: string;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  saveConfig: boolean;
}

/** One `Host = name=ip` entry of [Gateway]: a service name the gateway's DNS answers for. */
export interface HostEntry {
  /** Lower-case DNS name. */
  name: string;
  /** Canonical IP text. */
  address: string;
}

/** [Gateway] (wgts extension): the project network the gateway gives its peers. */
export interface GatewayConfig {
  /**
   * The project's name (a lower-case DNS label): client configs are issued as NAME.conf (interface
   * NAME, shortened to 15 characters), and a new gateway's domain defaults to it. Absent in files of
   * older versions: then the gateway file's name stands in (projectName in gateway/project.ts).
   */
  name?: string;
  /** Networks behind the gateway (aligned prefixes). At least one. */
  networks: Cidr[];
  /** DNS domain of the project network, lower case. */
  domain?: string;
  /** Public HOST:PORT that peers use to reach the gateway. */
  endpoint?: HostPort;
  hosts: HostEntry[];
  /** Source-NAT peer traffic into the networks (default true). */
  masquerade: boolean;
  /**
   * Resolvers for the names the gateway's DNS does not hold, in order of preference: absent = the
   * gateway host's own (its resolv.conf); 'none' = refuse them. Hosts are canonical IP literals.
   */
  upstream?: HostPort[] | 'none';
  /** The one address the gateway's DNS listens on (a tunnel address or 0.0.0.0 / ::), port 53; absent = every tunnel address. */
  listenDns?: HostPort;
  /** Address:port of the Prometheus endpoint (GET /metrics); absent = no metrics server. */
  metrics?: HostPort;
}

/**
 * One `Source =` line of [Env]: an env file whose every VAR is served as SERVICE_VAR, or the
 * gateway's own environment variables whose names start with `prefix` (served as they are named).
 */
export type EnvSource =
  | { kind: 'file'; service: string; /** As written: absolute, or relative to the config file's directory. */ path: string; line?: number }
  | { kind: 'environment'; prefix: string; line?: number };

/** [Env] (wgts extension): project variables a gateway serves to its laptops over the tunnel. */
export interface EnvConfig {
  /** In order: when two sources give the same name, the first one wins. At least one. */
  sources: EnvSource[];
  /** TCP port of the variables service on the tunnel addresses; absent = ENV_PORT (5380). */
  port?: number;
}

/** Where a peer came from in its file; absent for peers built in code. */
export interface PeerSource {
  /** Line of the [Peer] header. */
  line: number;
  /** Line of each entry of `allow`, same order, so rule errors found later can say FILE:LINE. */
  allowLines: number[];
  /** Line of each entry of `allowInbound`, same order. */
  allowInboundLines?: number[];
}

/** [Peer]: the wg(8) peer keys plus the wgts Name and Allow extensions. */
export interface PeerConfig {
  /** Canonical base64 of the 32-byte public key; the peer's identity. */
  publicKey: string;
  presharedKey?: string;
  /** Routed prefixes with host bits cleared (what the kernel and `wg showconf` keep). */
  allowedIPs: Cidr[];
  endpoint?: HostPort;
  /** Seconds; `off` is stored as 0. */
  persistentKeepalive?: number;
  /** Short unique label (letters, digits, `.`, `_`, `-`), e.g. for `wgts peer remove NAME`. */
  name?: string;
  /** Access rules `CIDR[:PORT[-PORT]][/tcp|/udp|/icmp]` (or `gateway[:PORT..][/proto]`) as written; shape-checked only. */
  allow: string[];
  /**
   * Connections the project may open to this peer, `PORT[-PORT][/tcp|/udp]` or `icmp`, as written
   * (absent or empty: none; answers to what the peer started always pass).
   */
  allowInbound?: string[];
  /** `Disabled = true`: the peer stays in the file but is not on the interface (cut off, no access). */
  disabled?: boolean;
  /** `Expires =`: from this time (ms since the epoch) the peer is treated as disabled. */
  expires?: number;
  /** `Issued =`: what the client config last issued to the laptop held (no secrets). */
  issued?: IssuedRecord;
  /**
   * Project variables the peer may read (`Env = app_*`): globs over served names, as written
   * (absent or empty: none).
   */
  env?: string[];
  source?: PeerSource;
}

/** What a client config issued to a laptop held (config/issued.ts writes and reads it). */
export interface IssuedRecord {
  /** When it was issued (ms since the epoch). */
  at: number;
  /** The laptop's Address entries (CIDR). */
  address: string[];
  /** The laptop's DNS = entries: server addresses, then the search domain. */
  dns: string[];
  /** The gateway's public key (base64). */
  key: string;
  /** The gateway's Endpoint, HOST:PORT. */
  endpoint: string;
  /** AllowedIPs of the gateway in the laptop's config (CIDR). */
  allowed: string[];
}

/** A whole parsed file. */
export interface WgtsConfig {
  interface: InterfaceConfig;
  gateway?: GatewayConfig;
  /** [Env]: only in a file with [Gateway]. */
  env?: EnvConfig;
  peers: PeerConfig[];
}

/** The section kinds a file may hold. */
export type SectionKind = 'Interface' | 'Peer' | 'Gateway' | 'Env';

/** One physical line: its text without the line ending, and the ending ('' on a last line without one). */
export interface DocLine {
  readonly text: string;
  readonly eol: '\n' | '\r\n' | '';
}

/**
 * A section: the comment lines directly above its header (no blank line in between; they belong
 * to the section and go with it when it is removed), the header line, and every line up to the
 * next section's leading comments.
 */
export interface DocSection {
  readonly kind: SectionKind;
  readonly leading: readonly DocLine[];
  readonly header: DocLine;
  readonly body: readonly DocLine[];
}

/** A file as lines: those before the first section (`head`), then the sections in order. */
export interface ConfigDocument {
  /** The file name used in error messages. */
  readonly file: string;
  readonly head: readonly DocLine[];
  readonly sections: readonly DocSection[];
}
