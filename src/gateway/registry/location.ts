// Where a gateway's state lives when it is not a file: `etcd://[USER@]HOST:PORT[,HOST:PORT...]/PREFIX`.
// The members are etcd client endpoints (gRPC, port 2379 by default); PREFIX is a path of one or
// more segments (`wgts/shop`), under which every key of the gateway lives (schema.ts). A password
// never goes into the URL: it comes from the environment (connect.ts), so the URL can be printed,
// logged and stored in status files as it is.
import { formatHostPort, parseHostPort } from '../../config/ip.js';

/** A parsed registry location. */
export interface RegistryLocation {
  /** The canonical URL (members as written, one prefix without slashes at its ends, no password). */
  readonly url: string;
  /** HOST:PORT of each member, in order. */
  readonly members: string[];
  /** The key prefix, with a leading '/', without a trailing one: `/wgts/shop`. */
  readonly prefix: string;
  /** The etcd user from the URL (USER@), if any. */
  readonly user?: string;
}

const SCHEME = 'etcd://';
/** A prefix segment: what etcd keys and shells take without quoting. */
const SEGMENT = /^[A-Za-z0-9._-]{1,64}$/;

/** Whether a command-line location names a registry rather than a file. */
export function isRegistryLocation(location: string): boolean {
  return location.startsWith(SCHEME);
}

/** The default client port of etcd. */
export const ETCD_PORT = 2379;

/** Parses `etcd://[USER@]HOST[:PORT][,HOST[:PORT]...]/PREFIX`; throws an Error that says what is wrong. */
export function parseRegistryLocation(location: string): RegistryLocation {
  // A password put into the URL by mistake is not repeated in the message.
  const shown = location.replace(/^(etcd:\/\/[^/@:]*):[^/@]*@/, '$1:***@');
  const bad = (why: string): Error => new Error(`${shown}: ${why} (expected etcd://HOST:PORT[,HOST:PORT...]/PREFIX, e.g. etcd://10.0.0.5:2379/wgts/shop)`);
  if (!isRegistryLocation(location)) throw bad('not an etcd:// URL');
  const rest = location.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw bad('no PREFIX');
  let authority = rest.slice(0, slash);
  const path = rest.slice(slash + 1).replace(/\/+$/, '');
  let user: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    user = authority.slice(0, at);
    authority = authority.slice(at + 1);
    if (user.includes(':')) throw bad('a password does not go into the URL: set WGTS_REGISTRY_PASSWORD (or WGTS_REGISTRY_PASSWORD_FILE)');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(user)) throw bad(`'${user}' is not an etcd user name`);
  }
  if (authority === '') throw bad('no HOST:PORT');
  const members = authority.split(',').map((m) => {
    const hp = parseHostPort(/^[^[:]*$|^\[[^\]]*\]$/.test(m) ? `${m}:${ETCD_PORT}` : m, true);
    if (!hp.ok) throw bad(`member '${m}': ${hp.error}`);
    return formatHostPort(hp.value);
  });
  const segments = path.split('/');
  if (path === '' || segments.some((s) => !SEGMENT.test(s))) throw bad(`PREFIX '${path}' must be one or more segments of A-Z a-z 0-9 . _ - separated by '/'`);
  const url = `${SCHEME}${user === undefined ? '' : `${user}@`}${members.join(',')}/${path}`;
  return { url, members, prefix: `/${path}`, ...(user === undefined ? {} : { user }) };
}
