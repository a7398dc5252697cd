// `wgts lab --ha`: the failover pair (pair.ts) as numbered steps: two gateways run from one etcd
// registry (one identity) with keepalived, a stock laptop through the shared address, `kill -9` of the active gateway with the
// interruption of curl measured, the other gateway serving (masquerade, the laptop's endpoint, an
// open connection), and the first gateway coming back without taking the address back.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { poll, type Report, secondsSince } from '../lab-report.js';
import { HA_APP, HA_ETCD, HA_GW_PROJECT, HA_LAPTOP, HA_PORT, HA_REGISTRY, HA_VIP, HaPair, other, type Side } from './pair.js';

/** The interface names of the lab's pair (machine-wide UAPI sockets and status files). */
export const LAB_HA_IF = { a: 'wgtslab-ha-a', b: 'wgtslab-ha-b', laptop: 'wgtslab-halap' } as const;

/** Thrown by a setup step that failed (already reported). */
class SetupFailed extends Error {}

/** One `wgts lab --ha` run. */
export class HaLabRun {
  readonly pair: HaPair;

  constructor(private readonly r: Report, private readonly o: { prefix: string; dir: string; wgtsScript: string; wgtsCommand: string }) {
    this.pair = new HaPair({ prefix: `${o.prefix}ha-`, ifnames: LAB_HA_IF, dir: o.dir, wgtsScript: o.wgtsScript, kick: { a: true, b: true } });
  }

  header(): void {
    const ns = this.pair.ns;
    this.r.line('wgts lab --ha: two gateways with one identity from one registry (etcd) behind one address (keepalived / VRRP), a stock laptop, kill -9 of the active one');
    this.r.line(`  ${ns.app.padEnd(20)} ${HA_APP}   app: http :3000, banner :5432, echo :7000`);
    this.r.line(`  ${ns.a.padEnd(20)} gateway A: project ${HA_GW_PROJECT.a}, own 10.201.0.2, VIP ${HA_VIP}:${HA_PORT} while MASTER`);
    this.r.line(`  ${ns.b.padEnd(20)} gateway B: project ${HA_GW_PROJECT.b}, own 10.201.0.3, the same registry prefix`);
    this.r.line(`  ${ns.etcd.padEnd(20)} etcd on ${HA_ETCD} (the gateways' management link only)`);
    this.r.line(`  ${ns.laptop.padEnd(20)} ${HA_LAPTOP}   wg-quick + wireguard-go, Endpoint = ${HA_VIP}:${HA_PORT}`);
    this.r.line(`  ${ns.sw.padEnd(20)} the bridges: "internet" (gateways, laptop, VRRP), project, management`);
    this.r.line();
  }

  private fail(text: string, details: string[] = []): never {
    this.r.result('fail', text, details);
    throw new SetupFailed();
  }

  private async setup(): Promise<void> {
    const t0 = Date.now();
    try {
      await this.pair.setup();
    } catch (e) {
      this.fail(`namespaces, bridges, services: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.r.result('pass', `namespaces, bridges, app, etcd (${secondsSince(t0)}); no default routes`);
    try {
      const { laptopAddress } = this.pair.configs();
      this.r.result('pass', `on A's host: wgts gateway init ${HA_REGISTRY} --endpoint ${HA_VIP}:${HA_PORT} ...; wgts peer add ${HA_REGISTRY} laptop (${laptopAddress})`);
    } catch (e) {
      this.fail(`gateway config: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const s of ['a', 'b'] as const) {
      const t = Date.now();
      try {
        await this.pair.gatewayUp(s);
      } catch (e) {
        this.fail(`gateway ${s.toUpperCase()}: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.r.result('pass', `gateway ${s.toUpperCase()}: wgts up ${HA_REGISTRY} --ifname ${LAB_HA_IF[s]} --endpoints-file endpoints in ${this.pair.ns[s]} (${secondsSince(t)})`);
    }
    const t = Date.now();
    const conf = this.pair.keepalived('a');
    const became = await this.pair.waitMaster('a', 10_000);
    if (became === null) this.fail('keepalived on A: no MASTER within 10 s', this.pair.tail('keepalived-a'));
    const shown = readFileSync(conf, 'utf8').trimEnd().split('\n').filter((l) => !l.startsWith('#'));
    this.r.result('pass', `keepalived on A (wgts ha keepalived-conf --wg ${LAB_HA_IF.a} --interface eth0 --vip ${HA_VIP}/24 --endpoints ...): MASTER after ${secondsSince(t)}`, shown);
    this.pair.keepalived('b');
    const backup = await poll(() => (this.pair.vrrpStates('b').includes('BACKUP') ? true : null), 5000);
    if (!backup) this.fail('keepalived on B: not BACKUP within 5 s', this.pair.tail('keepalived-b'));
    this.r.result('pass', `keepalived on B: BACKUP; ${HA_VIP} is on A only`);
    try {
      this.pair.laptopUp();
    } catch (e) {
      this.fail(`laptop: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.r.result('pass', `laptop: wg-quick up ${LAB_HA_IF.laptop}.conf (wireguard-go), Endpoint ${this.pair.laptopEndpoint()}`);
  }

  /** curl and a new connection's masquerade address: through side `s`. */
  private through(s: Side, check: (mark: 'pass' | 'fail', text: string) => boolean): boolean {
    const c = this.pair.curl();
    let ok = check(c.ok ? 'pass' : 'fail', `curl -s http://app:3000/: ${c.text}`);
    const masq = this.pair.masqueradedAs();
    ok = check(masq === HA_GW_PROJECT[s] ? 'pass' : 'fail', `a new connection reaches app from ${masq ?? 'nowhere'} (gateway ${s.toUpperCase()}'s masquerade)`) && ok;
    return ok;
  }

  private async viaA(): Promise<void> {
    this.r.heading('the laptop reaches app through A');
    this.through('a', (m, t) => this.r.check(m, t));
    const shared = await poll(async () => ((await this.pair.sharedEndpoints()).size > 0 ? this.pair.sharedEndpoints() : null), 3000);
    this.r.check(shared ? 'pass' : 'fail', `the endpoints file the pair shares: laptop at ${shared ? [...shared.values()].join(', ') : 'nothing yet'}`);
  }

  private async failover(from: Side): Promise<void> {
    const to = other(from);
    const held = await this.pair.holdConnection(`held-${from}`);
    const meter = await this.pair.startOutageMeter(`outage-${from}`, 60);
    await sleep(500);
    const pid = this.pair.killGateway(from);
    const t0 = Date.now();
    this.r.heading(`kill -9 ${pid} (wgts up of gateway ${from.toUpperCase()}), with curl http://app:3000/ running every 100 ms on the laptop`);
    const took = await this.pair.waitMaster(to, 10_000);
    const states = this.pair.vrrpStates(from);
    this.r.check(took !== null ? 'pass' : 'fail', `keepalived: ${from.toUpperCase()} ${states.at(-1) ?? '?'} (its TUN device vanished), ${to.toUpperCase()} MASTER after ${took !== null ? `${((Date.now() - t0) / 1000).toFixed(1)} s` : 'never'}`);
    const back = await this.pair.meterRecovered(`outage-${from}`, 20_000);
    const o = await meter();
    this.r.check(back && !o.down ? 'pass' : 'fail', back
      ? `curl was interrupted for ${(o.longestMs / 1000).toFixed(1)} s (${o.failures} of ${o.attempts} tries failed): ${to.toUpperCase()} ran \`wgts ha kick\` as it took over (without the kick: about 15 s, the laptop's own timers)`
      : 'curl did not come back within 20 s');
    const ep = this.pair.laptopEndpoint();
    this.r.check(ep === `${HA_VIP}:${HA_PORT}` ? 'pass' : 'fail', `the laptop's endpoint: ${ep} (gateway ${to.toUpperCase()} answers from the shared address)`);
    this.through(to, (m, t) => this.r.check(m, t));
    const after = await held.release();
    this.r.check(held.before === 'echo "before"' && after === 'error ECONNRESET' ? 'pass' : 'fail',
      `a TCP connection opened through ${from.toUpperCase()} (${held.before}), used again: ${after} (connection tracking and the masquerade address are per gateway)`);
  }

  private async comesBack(s: Side): Promise<void> {
    this.r.heading(`gateway ${s.toUpperCase()} comes back`);
    const meter = await this.pair.startOutageMeter(`outage-return-${s}`, 30);
    const t0 = Date.now();
    let up = true;
    try {
      await this.pair.gatewayUp(s);
    } catch (e) {
      up = this.r.check('fail', `wgts up: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (up) this.r.check('pass', `wgts up ${HA_REGISTRY} --ifname ${LAB_HA_IF[s]} (${secondsSince(t0)})`);
    const backup = await poll(() => (this.pair.vrrpStates(s).at(-1) === 'BACKUP' ? true : null), 10_000);
    this.r.check(backup ? 'pass' : 'fail', `keepalived on ${s.toUpperCase()}: ${this.pair.vrrpStates(s).slice(-2).join(' -> ')}`);
    await sleep(3000);
    const m = this.pair.master();
    const o = await meter();
    this.r.check(m === other(s) && o.failures === 0 ? 'pass' : 'fail',
      `3 s later ${HA_VIP} is still on ${String(m).toUpperCase()} (nopreempt: no second move); curl failed ${o.failures} of ${o.attempts} times meanwhile`);
  }

  /** Runs every step; true when the pair came up (whatever the demonstration found). */
  async steps(): Promise<boolean> {
    try {
      await this.setup();
    } catch (e) {
      if (e instanceof SetupFailed) return false;
      throw e;
    }
    for (const step of [() => this.viaA(), () => this.failover('a'), () => this.comesBack('a')]) {
      await new Promise((resolve) => setImmediate(resolve));
      await step();
    }
    return true;
  }

  keepHints(): void {
    const w = this.o.wgtsCommand;
    this.r.line('the lab keeps running (--keep):');
    this.r.line(`  the laptop:        sudo ip netns exec ${this.pair.ns.laptop} bash   then: curl http://app:3000, wg show`);
    this.r.line(`  a failover:        sudo ${w} show ${LAB_HA_IF.b}; kill -9 the pid in /var/run/wgts/${LAB_HA_IF.b}.json`);
    this.r.line(`  configs and logs:  ${this.o.dir} (keepalived-a.log, keepalived-b.log, the endpoints file, etcd's data)`);
    this.r.line(`  remove it:         sudo ${w} lab --clean`);
  }
}
