// The state store's per-command costs on one gateway location (a file or a registry URL), in
// process: what `bench store` prints for a file and `bench registry` for a file beside etcd.
import { setGateway } from '../src/gateway/gateway-ops.js';
import { addPeer, initGateway, listGatewayPeers } from '../src/gateway/onboard.js';
import { setPeerFlags } from '../src/gateway/peer-ops.js';
import { medianCallMs } from '../test/helpers/measure.js';

/** Laptops on the measured gateway. */
export const STORE_PEERS = 250;

/**
 * Creates a gateway at `loc` and fills it with STORE_PEERS laptops; returns the median ms of
 * `peer add` with 10 peers in it and with STORE_PEERS - 10, of `peer list`, `peer disable` and
 * `gateway set --endpoint`, in that order (`calls`: how many calls the medians of the slower
 * list and set take).
 */
export async function storeCosts(loc: string, calls: { list: number; set: number }, name?: string): Promise<[number, number, number, number, number]> {
  await initGateway(loc, { address: '10.123.0.1/22', networks: ['10.124.0.0/24'], endpoint: 'vpn.example.com:51820', ...(name !== undefined ? { name } : {}) });
  const firstAdds = await medianCallMs(10, (i) => addPeer(loc, `a${i}`));
  for (let i = 10; i < STORE_PEERS - 10; i++) await addPeer(loc, `a${i}`);
  const lastAdds = await medianCallMs(10, (i) => addPeer(loc, `b${i}`));
  const list = await medianCallMs(calls.list, () => listGatewayPeers(loc));
  const disable = await medianCallMs(10, (i) => setPeerFlags(loc, `a${100 + i}`, { disabled: true }));
  const set = await medianCallMs(calls.set, (i) => setGateway(loc, { endpoint: `vpn${i}.example.com:51820` }));
  return [firstAdds, lastAdds, list, disable, set];
}
