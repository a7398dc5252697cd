// `npm run bench -- store`: what the gateway's state store costs per command on a gateway file with
// many laptops (node start-up aside, which dominates a CLI call): one `peer add` (a locked
// transaction: parse, typed edit carried into the lines, parse again, atomic write), `peer list`
// (parse, per-peer config state against what the gateway issues now), `peer disable`, and a
// `gateway set` (which looks for outdated configs before and after). Medians of repeated calls.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setGateway } from '../src/gateway/gateway-ops.js';
import { addPeer, initGateway, listGatewayPeers } from '../src/gateway/onboard.js';
import { setPeerFlags } from '../src/gateway/peer-ops.js';
import { medianCallMs } from '../test/helpers/measure.js';

const PEERS = 250;
const dir = mkdtempSync(join(tmpdir(), 'wgts-bench-store-'));
const file = join(dir, 'gw.conf');

try {
  await initGateway(file, { address: '10.123.0.1/22', networks: ['10.124.0.0/24'], endpoint: 'vpn.example.com:51820' });
  const firstAdds = await medianCallMs(10, (i) => addPeer(file, `a${i}`));
  for (let i = 10; i < PEERS - 10; i++) await addPeer(file, `a${i}`);
  const lastAdds = await medianCallMs(10, (i) => addPeer(file, `b${i}`));
  const list = await medianCallMs(20, () => listGatewayPeers(file));
  const disable = await medianCallMs(10, (i) => setPeerFlags(file, `a${100 + i}`, { disabled: true }));
  const set = await medianCallMs(10, (i) => setGateway(file, { endpoint: `vpn${i}.example.com:51820` }));
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
