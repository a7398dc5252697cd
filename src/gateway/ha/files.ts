// The small programs the failover lab and test run inside their namespaces, written into their
// directory next to the lab's own (lab-files.ts): an echo service for the open-connection check, a
// client that holds one TCP connection open across the failover, and the outage meter.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `node echo.mjs IP PORT`: echoes every line back on IP:PORT; prints `ready`. */
const ECHO_SERVER = `// wgts failover lab: a line echo service
import { createServer } from 'node:net';
const [ip, port] = [process.argv[2], Number(process.argv[3])];
createServer((c) => { c.on('error', () => {}); c.pipe(c); }).listen(port, ip, () => console.log('ready'));
`;

/**
 * \`node hold.mjs HOST PORT TRIGGER\`: opens one TCP connection, sends "before" and prints
 * {"phase":"before","echo":...}; once the file TRIGGER exists, sends "after" on the same
 * connection and prints {"phase":"after","echo":...} or {"phase":"after","error":"ECONNRESET" |
 * "timeout" | ...} (5 s at most), then exits.
 */
const HOLD_CLIENT = `// wgts failover lab: one TCP connection held open across the failover
import { connect } from 'node:net';
import { existsSync } from 'node:fs';
const [host, port, trigger] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const say = (o) => console.log(JSON.stringify(o));
const socket = connect({ host, port });
let phase = 'before';
let text = '';
let timer = setTimeout(() => { say({ phase, error: 'timeout' }); process.exit(0); }, 5000);
socket.setEncoding('utf8');
socket.on('connect', () => socket.write('before\\n'));
socket.on('error', (e) => { say({ phase, error: e.code ?? e.message }); process.exit(0); });
socket.on('end', () => { say({ phase, error: 'closed by the other side' }); process.exit(0); });
socket.on('data', (d) => {
  text += d;
  if (!text.includes('\\n')) return;
  say({ phase, echo: text.trim() });
  text = '';
  clearTimeout(timer);
  if (phase === 'after') process.exit(0);
  phase = 'after';
  const wait = setInterval(() => {
    if (!existsSync(trigger)) return;
    clearInterval(wait);
    socket.write('after\\n');
    timer = setTimeout(() => { say({ phase, error: 'timeout' }); process.exit(0); }, 5000);
  }, 20);
});
`;

/**
 * \`node outage.mjs URL BODY STOP MAX_S\`: runs \`curl -s -m 0.5 URL\` every 100 ms (one at a time)
 * until the file STOP exists (or MAX_S passed) and prints one JSON line per change
 * ({"t":ms,"ok":bool}) and a summary {"attempts","failures","longestMs"}: the longest time from
 * the last answer before a failure to the first answer after it (an interruption seen with a
 * resolution of about 100 ms). An answer counts when curl exits 0 with exactly BODY.
 */
const OUTAGE_METER = `// wgts failover lab: how long curl is interrupted
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
const [url, body, stop, maxS] = [process.argv[2], process.argv[3], process.argv[4], Number(process.argv[5])];
const end = Date.now() + maxS * 1000;
let attempts = 0, failures = 0, longestMs = 0, lastOk = null, down = false, prev = null;
console.log(JSON.stringify({ ready: true }));
const once = () => {
  if (existsSync(stop) || Date.now() > end) {
    console.log(JSON.stringify({ attempts, failures, longestMs, down }));
    return;
  }
  const t = Date.now();
  attempts++;
  execFile('curl', ['-s', '-m', '0.5', url], { timeout: 2000 }, (err, stdout) => {
    const ok = !err && stdout === body;
    const now = Date.now();
    if (ok) {
      if (down && lastOk !== null) longestMs = Math.max(longestMs, now - lastOk);
      down = false;
      lastOk = now;
    } else {
      failures++;
      if (lastOk !== null) down = true;
    }
    if (ok !== prev) console.log(JSON.stringify({ t: now, ok }));
    prev = ok;
    setTimeout(once, Math.max(0, 100 - (now - t)));
  });
};
once();
`;

/** Paths of the programs writeHaFiles wrote. */
export interface HaFiles {
  echo: string;
  hold: string;
  outage: string;
}

/** Writes the failover lab's programs into `dir`. */
export function writeHaFiles(dir: string): HaFiles {
  const files: HaFiles = { echo: join(dir, 'echo.mjs'), hold: join(dir, 'hold.mjs'), outage: join(dir, 'outage.mjs') };
  writeFileSync(files.echo, ECHO_SERVER);
  writeFileSync(files.hold, HOLD_CLIENT);
  writeFileSync(files.outage, OUTAGE_METER);
  return files;
}
