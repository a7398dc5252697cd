// `npm run bench -- store`: what the gateway's state store costs per command on a gateway file with
// many laptops (node start-up aside, which dominates a CLI call): one `peer add` (a locked
// transaction: parse, typed edit carried into the lines, parse again, atomic write), `peer list`
// (parse, per-peer config state against what the gateway issues now), `peer disable`, and a
// `gateway set` (which looks for outdated configs before and after). Medians of repeated calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STORE_PEERS as PEERS, storeCosts } from './store-costs.js';

const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-store-'));
const file = join(dir, 'gw.conf');

try {
  const [firstAdds, lastAdds, list, disable, set] = await storeCosts(file, { list: 20, set: 10 });
  console.log(`gateway file with ${PEERS} peers (median ms per call, in process)`);
  console.log('| operation | ms |\n|---|---|');
  console.log(`| peer add (10 peers in the file) | ${firstAdds.toFixed(1)} |`);
  console.log(`| peer add (${PEERS - 10} peers in the file) | ${lastAdds.toFixed(1)} |`);
  console.log(`| peer list (${PEERS}) | ${list.toFixed(1)} |`);
  console.log(`| peer disable | ${disable.toFixed(1)} |`);
  console.log(`| gateway set --endpoint (outdated configs found) | ${set.toFixed(1)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
