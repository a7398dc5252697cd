// The small programs `wgts lab` runs inside its namespaces, written into the lab's directory:
// the project's services (node:http / node:net), a TCP probe for the laptop, and two shims placed
// first in PATH on the laptop so DNS settings stay inside the laptop's namespace: `resolvconf`
// (what wg-quick calls) writes /etc/netns/wgts-lab-laptop/resolv.conf instead of the host's, and
// `resolvectl` fails, so `wgts up` never hands the lab's DNS to the host's systemd-resolved.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `node app.mjs IP`: HTTP on IP:3000 (the demo page) and IP:3001 (an admin page); prints `ready`. */
const APP_SERVER = `// wgts lab: the project's "app" service
import { createServer } from 'node:http';
const ip = process.argv[2];
let listening = 0;
const ready = () => { if (++listening === 2) console.log('ready'); };
createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end(\`hello from app (\${ip})\\n\`); }).listen(3000, ip, ready);
createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end('app admin page (port 3001)\\n'); }).listen(3001, ip, ready);
`;

/** `node db.mjs IP`: TCP on IP:5432 sending one banner line naming the client's address; prints `ready`. */
const DB_SERVER = `// wgts lab: the project's "db" service
import { createServer } from 'node:net';
const ip = process.argv[2];
createServer((c) => c.end(\`db \${ip}:5432 ready; client \${c.remoteAddress}\\n\`)).listen(5432, ip, () => console.log('ready'));
`;

/**
 * \`node probe.mjs TIMEOUT_MS HOST:PORT...\`: connects to every target at once and prints one JSON
 * line each, {target, open, banner} or {target, open: false, error}; a connected target is
 * reported with the first line it sends within 500 ms (empty when it sends nothing).
 */
const PROBE = `// wgts lab: TCP reachability probe
import { connect } from 'node:net';
const timeoutMs = Number(process.argv[2]);
const probe = (target) => new Promise((resolve) => {
  const i = target.lastIndexOf(':');
  const socket = connect({ host: target.slice(0, i), port: Number(target.slice(i + 1)) });
  let text = '';
  let timer;
  const finish = (r) => { clearTimeout(timer); socket.destroy(); resolve({ target, ...r }); };
  timer = setTimeout(() => finish({ open: false, error: \`no connection within \${timeoutMs} ms\` }), timeoutMs);
  socket.setEncoding('utf8');
  socket.on('connect', () => { clearTimeout(timer); timer = setTimeout(() => finish({ open: true, banner: text.trim() }), 500); });
  socket.on('data', (d) => { text += d; if (text.includes('\\n')) finish({ open: true, banner: text.split('\\n')[0] }); });
  socket.on('end', () => finish({ open: true, banner: text.trim() }));
  socket.on('error', (e) => finish({ open: false, error: e.message }));
});
for (const r of await Promise.all(process.argv.slice(3).map(probe))) console.log(JSON.stringify(r));
`;

/** A resolvconf(8) stand-in for wg-quick: `-a IF` writes `resolvConf` from stdin, `-d IF` puts `guard` back. */
function resolvconfShim(resolvConf: string, guard: string): string {
  return `#!/bin/sh
# wgts lab: resolvconf stand-in for wg-quick; only ever writes ${resolvConf}
case "$1" in
  -a) cat > '${resolvConf}' ;;
  -d) printf '%s' '${guard}' > '${resolvConf}' ;;
  *) echo "resolvconf (wgts lab shim): unsupported: $*" >&2; exit 1 ;;
esac
`;
}

const RESOLVECTL_SHIM = `#!/bin/sh
# wgts lab: systemd-resolved is the host's; the lab's DNS stays in its namespace's resolv.conf
echo "resolvectl: not available inside the wgts lab" >&2
exit 1
`;

/** Paths of the files writeLabFiles wrote. */
export interface LabFiles {
  app: string;
  db: string;
  probe: string;
  /** Directory to put first in PATH on the laptop (resolvconf and resolvectl shims). */
  bin: string;
}

/**
 * Writes the services, the probe and the shims into `dir`. `resolvConf` is the laptop namespace's
 * resolv.conf, `guard` its content while no tunnel DNS is set (single-quote free).
 */
export function writeLabFiles(dir: string, resolvConf: string, guard: string): LabFiles {
  if (guard.includes("'") || resolvConf.includes("'")) throw new Error('shim text must not contain single quotes');
  const files: LabFiles = { app: join(dir, 'app.mjs'), db: join(dir, 'db.mjs'), probe: join(dir, 'probe.mjs'), bin: join(dir, 'bin') };
  writeFileSync(files.app, APP_SERVER);
  writeFileSync(files.db, DB_SERVER);
  writeFileSync(files.probe, PROBE);
  mkdirSync(files.bin, { mode: 0o755 });
  for (const [name, text] of [['resolvconf', resolvconfShim(resolvConf, guard)], ['resolvectl', RESOLVECTL_SHIM]] as const) {
    writeFileSync(join(files.bin, name), text);
    chmodSync(join(files.bin, name), 0o755);
  }
  return files;
}
