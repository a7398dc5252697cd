// The systemd unit of `wgts service install`: one template, `wgts@.service`, whose instance is the
// interface name (`systemctl start wgts@gw0`), modelled on wg-quick@.service: the config is
// /etc/wireguard/%i.conf unless a per-instance drop-in (`wgts@gw0.service.d/wgts.conf`) names
// another file. Unlike wg-quick's oneshot, `wgts up` is the service's main process: Type=notify
// (READY=1 once the interface, routes, firewall rules and DNS are up; RELOADING=1 ... READY=1
// around a reload; STOPPING=1), a synchronous ExecReload (`wgts reload`, which waits for the
// running process to apply the file and fails when it could not), Restart=on-failure, and a
// sandbox that still lets it create the TUN, talk netlink, run ip/iptables/nft/resolvectl, bind
// port 53 and write the forwarding sysctls. Pure text generation: service.ts writes the files.
import { LOG_FORMATS, type LogFormat } from '../device/log.js';

/** The template's file name. */
export const TEMPLATE_NAME = 'wgts@.service';
/** The drop-in file inside `wgts@IF.service.d/`. */
export const DROP_IN_NAME = 'wgts.conf';
/** Where the template looks for an instance's config (wg-quick's place). */
export const DEFAULT_CONFIG_DIR = '/etc/wireguard';
/** The first line of every file wgts writes (uninstall removes only files that carry it). */
export const GENERATED_MARK = '# Written by `wgts service install`';
/** Directories ProtectHome=yes hides: a program or config below them needs ProtectHome=read-only. */
const HOME_DIRS = ['/home', '/root', '/run/user'];
/** Directories PrivateTmp=yes replaces: a config below them needs PrivateTmp=no. */
const TMP_DIRS = ['/tmp', '/var/tmp'];

export interface UnitOptions {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of the wgts entry script (dist/src/cli/wgts.js). */
  script: string;
  logFormat?: LogFormat;
  /** iptables is the legacy variant, which takes /run/xtables.lock (see templateUnit). */
  iptablesLegacy?: boolean;
  /** A URL or path for Documentation= (the README of the installed package). */
  documentation?: string;
}

const under = (dirs: readonly string[], path: string): boolean => dirs.some((d) => path === d || path.startsWith(`${d}/`));

/** Whether `path` lies in a directory ProtectHome=yes makes inaccessible. */
export function underHome(path: string): boolean {
  return under(HOME_DIRS, path);
}

/**
 * One word of a unit file command line or assignment: `%` doubled (specifiers), and double-quoted
 * with `\` and `"` escaped when it holds whitespace, quotes or backslashes.
 */
export function unitWord(word: string): string {
  const w = word.replace(/%/g, '%%');
  return /[\s"'\\]/.test(w) ? `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : w;
}

/**
 * The instance name of interface `ifname` (systemd-escape of the characters interface names allow
 * but unit names do not: `=` and `+`, and a leading `.`). The same as `ifname` for usual names.
 */
export function instanceName(ifname: string): string {
  return ifname.replace(/[=+]|^\./g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
}

/** The unit name of interface `ifname`: `wgts@gw0.service`. */
export function unitName(ifname: string): string {
  return `wgts@${instanceName(ifname)}.service`;
}

/** The config file the template runs for `ifname` when no drop-in says otherwise. */
export function defaultConfigPath(ifname: string): string {
  return `${DEFAULT_CONFIG_DIR}/${ifname}.conf`;
}

/** The template unit. */
export function templateUnit(o: UnitOptions): string {
  if (o.logFormat !== undefined && !LOG_FORMATS.includes(o.logFormat)) throw new Error(`bad log format ${String(o.logFormat)}`);
  const wgts = `${unitWord(o.node)} ${unitWord(o.script)}`;
  const logFlag = o.logFormat === 'json' ? ' --log-format json' : '';
  const homeNeeded = underHome(o.node) || underHome(o.script);
  const lines = [
    GENERATED_MARK,
    '# One WireGuard interface run by wgts up: systemctl enable --now wgts@IFNAME',
    `# runs ${DEFAULT_CONFIG_DIR}/IFNAME.conf (wgts@IFNAME.service.d/${DROP_IN_NAME} may name another file).`,
    '[Unit]',
    'Description=wgts WireGuard interface %I (userspace, TypeScript)',
    ...(o.documentation ? [`Documentation=${o.documentation}`] : []),
    'After=network-online.target nss-lookup.target',
    'Wants=network-online.target nss-lookup.target',
    '',
    '[Service]',
    // READY=1 comes from `wgts up` itself once everything is up; only the main process may notify.
    'Type=notify',
    'NotifyAccess=main',
    `Environment=WGTS_CONFIG=${DEFAULT_CONFIG_DIR}/%i.conf`,
    `ExecStart=${wgts} up${logFlag} \${WGTS_CONFIG}`,
    // Returns once the running process has applied the file (SIGHUP + its status file); fails
    // with the reason when it could not, while the interface keeps running the last good config.
    `ExecReload=${wgts} reload \${WGTS_CONFIG}`,
    // SIGTERM to wgts up alone: it undoes routes, firewall rules and DNS itself, running ip and
    // iptables on the way, which must not be killed with it.
    'KillMode=mixed',
    'TimeoutStopSec=30',
    // A crash (exit 70) or a start that failed (an Endpoint that does not resolve yet at boot)
    // is tried again; `wgts down` (exit 0) stops it for good.
    'Restart=on-failure',
    'RestartSec=5',
    // The UAPI socket and the status file; kept when one instance stops (others use them too).
    'RuntimeDirectory=wgts wireguard',
    'RuntimeDirectoryMode=0755',
    'RuntimeDirectoryPreserve=yes',
    'UMask=0077',
    // Sandbox. TUN: the one device; netlink (ip, nft, iptables-nft), AF_INET raw sockets
    // (iptables-legacy) and AF_UNIX (UAPI, D-Bus for resolvectl). Capabilities: interfaces,
    // routes, firewall, SO_MARK (NET_ADMIN), DNS on port 53 (NET_BIND_SERVICE), raw sockets.
    'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW',
    'NoNewPrivileges=yes',
    'DevicePolicy=closed',
    'DeviceAllow=/dev/net/tun rw',
    'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6',
    // Read-only everywhere but /run/wgts, /run/wireguard and /etc/netns (and /proc/sys: a gateway
    // turns on IP forwarding there, so ProtectKernelTunables stays off). The config is only read.
    'ProtectSystem=strict',
    // A laptop inside a named network namespace (NetworkNamespacePath=/run/netns/NAME) sets its
    // DNS in that namespace's /etc/netns/NAME/resolv.conf, as `ip netns exec` shows it.
    'ReadWritePaths=-/etc/netns',
    `ProtectHome=${homeNeeded ? 'read-only' : 'yes'}`,
    ...(o.iptablesLegacy ? [
      // iptables-legacy serializes on /run/xtables.lock: created outside the sandbox (+) when missing.
      'ExecStartPre=+/usr/bin/touch /run/xtables.lock',
      'ReadWritePaths=/run/xtables.lock',
    ] : []),
    'PrivateTmp=yes',
    'PrivateMounts=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    // Node's JIT writes executable memory: MemoryDenyWriteExecute would kill it.
    'SystemCallArchitectures=native',
    // What a service needs, minus privileged calls (setuid, chown, mount, module loading, ...)
    // and resource tuning; a refused call fails with EPERM rather than killing the process.
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged @resources',
    'SystemCallErrorNumber=EPERM',
    'ProtectProc=invisible',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/**
 * The drop-in of one instance, or null when the template's defaults fit (the config is
 * /etc/wireguard/IFNAME.conf and the instance name is the interface name).
 */
export function dropIn(ifname: string, configPath: string): string | null {
  if (configPath === defaultConfigPath(ifname) && instanceName(ifname) === ifname) return null;
  return [
    GENERATED_MARK,
    `# ${ifname}: runs ${configPath}`,
    '[Service]',
    `Environment=${unitWord(`WGTS_CONFIG=${configPath}`)}`,
    ...(underHome(configPath) ? ['ProtectHome=read-only'] : []),
    ...(under(TMP_DIRS, configPath) ? ['# the service\'s private /tmp would hide the file', 'PrivateTmp=no'] : []),
    '',
  ].join('\n');
}
