/**
 * SimulatedFleet: clusters and edge sites with simulated nodes, for tests and benchmarks. It
 * speaks the same NATS protocols as the real xDS layer (adapters/nats.ts): it watches the
 * assignments bucket, lets each simulated node ACK (or NACK, by rule) after a delay, and answers
 * convergence, health and fleet queries. Workers therefore run unchanged against it, in this
 * process or in another one.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { openAssignments, type RolloutNatsNames } from './adapters/nats.js';
import type {
  ConvergenceReport,
  FleetCluster,
  HealthSample,
  LabelSelector,
  NodeAckState,
} from './types.js';

export interface SimulatedClusterSpec {
  readonly name: string;
  readonly kind?: 'cluster' | 'edge';
  readonly labels?: LabelSelector;
  readonly nodes?: number;
  readonly online?: boolean;
  /** The version its nodes run at the start. */
  readonly version?: string;
}

interface SimNode {
  readonly name: string;
  ackedVersion: string | null;
  nack?: { version: string; message: string };
}

interface SimCluster {
  readonly spec: FleetCluster;
  online: boolean;
  readonly nodes: SimNode[];
  timer?: NodeJS.Timeout;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class SimulatedFleet {
  private readonly clusters = new Map<string, SimCluster>();
  private readonly assigned = new Map<string, string | null>();
  private readonly nackRules: {
    cluster: string;
    version: string;
    node?: string;
    message: string;
  }[] = [];
  private readonly errorRates = new Map<string, number>();
  private readonly subs: Subscription[] = [];
  private kv?: KV;
  private stopWatch?: () => void;
  /** Every assignment the simulated nodes saw, in order (cluster, version). */
  readonly assignmentLog: { cluster: string; version: string | null }[] = [];

  constructor(
    specs: readonly SimulatedClusterSpec[],
    private readonly opts: { ackDelayMs?: number } = {},
  ) {
    for (const s of specs) {
      const online = s.online ?? true;
      this.clusters.set(s.name, {
        spec: { name: s.name, kind: s.kind ?? 'cluster', labels: s.labels ?? {}, online },
        online,
        nodes: Array.from({ length: s.nodes ?? 2 }, (_, i) => ({
          name: `${s.name}-node-${i}`,
          ackedVersion: s.version ?? null,
        })),
      });
      this.assigned.set(s.name, s.version ?? null);
    }
  }

  /** Nodes of `cluster` (the first one unless `node` is given) reject `version` with `message`. */
  nackOn(cluster: string, version: string, message: string, node?: string): void {
    this.nackRules.push({ cluster, version, message, node: node ?? `${cluster}-node-0` });
  }

  /** Injected 5xx share for `version` on `cluster` (as a broken waypoint would give). */
  injectErrors(cluster: string, version: string, rate: number): void {
    this.errorRates.set(`${cluster}@${version}`, rate);
  }

  setOnline(cluster: string, online: boolean): void {
    const c = this.must(cluster);
    c.online = online;
    if (online) this.schedule(cluster);
  }

  /** The version each node of `cluster` runs. */
  nodeVersions(cluster: string): (string | null)[] {
    return this.must(cluster).nodes.map((n) => n.ackedVersion);
  }

  /** Clusters whose nodes do not all run `version`. */
  notOn(version: string, clusters: readonly string[] = [...this.clusters.keys()]): string[] {
    return clusters.filter((c) => this.nodeVersions(c).some((v) => v !== version));
  }

  /** Serve the NATS protocols and seed the assignments bucket with the initial versions. */
  async serve(nc: NatsConnection, names: RolloutNatsNames): Promise<void> {
    this.kv = await openAssignments(nc, names.assignmentsBucket);
    for (const [name, v] of this.assigned) if (v !== null) await this.kv.put(name, enc.encode(v));
    const watch = await this.kv.watch();
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        const version = e.operation === 'PUT' ? dec.decode(e.value) : null;
        if (!this.clusters.has(e.key) || this.assigned.get(e.key) === version) continue;
        this.assigned.set(e.key, version);
        this.assignmentLog.push({ cluster: e.key, version });
        this.schedule(e.key);
      }
    })();
    this.reply(nc, names.convergenceSubject, (q: { cluster: string; version: string }) =>
      this.convergence(q.cluster, q.version),
    );
    this.reply(nc, names.healthSubject, (q: { cluster: string; version: string }) =>
      this.health(q.cluster, q.version),
    );
    this.reply(nc, names.fleetSubject, () => ({
      clusters: [...this.clusters.values()].map((c) => ({ ...c.spec, online: c.online })),
    }));
    await nc.flush();
  }

  close(): void {
    this.stopWatch?.();
    for (const s of this.subs) s.unsubscribe();
    for (const c of this.clusters.values()) clearTimeout(c.timer);
  }

  convergence(cluster: string, version: string): ConvergenceReport {
    const c = this.clusters.get(cluster);
    if (!c || !c.online) return { converged: false, nodes: [] };
    const nodes: NodeAckState[] = c.nodes.map((n) => ({
      node: n.name,
      ackedVersion: n.ackedVersion,
      ...(n.nack ? { nack: n.nack } : {}),
    }));
    return { converged: nodes.every((n) => n.ackedVersion === version), nodes };
  }

  health(cluster: string, version: string): HealthSample | null {
    if (!this.clusters.has(cluster)) return null;
    const rate = this.errorRates.get(`${cluster}@${version}`) ?? 0;
    return { requests: 1000, errors: Math.round(rate * 1000), p99Ms: 20 };
  }

  private reply<Q>(nc: NatsConnection, subject: string, answer: (q: Q) => unknown): void {
    const sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        msg.respond(enc.encode(JSON.stringify(answer(msg.json<Q>()))));
      },
    });
    this.subs.push(sub);
  }

  /** Simulated nodes take the assigned version after the ACK delay, if connected. */
  private schedule(cluster: string): void {
    const c = this.must(cluster);
    clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      if (!c.online) return;
      const version = this.assigned.get(cluster) ?? null;
      for (const n of c.nodes) {
        const rule =
          version === null
            ? undefined
            : this.nackRules.find(
                (r) => r.cluster === cluster && r.version === version && r.node === n.name,
              );
        if (rule && version !== null) n.nack = { version, message: rule.message };
        else {
          n.ackedVersion = version;
          delete n.nack;
        }
      }
    }, this.opts.ackDelayMs ?? 20);
  }

  private must(cluster: string): SimCluster {
    const c = this.clusters.get(cluster);
    if (!c) throw new Error(`SimulatedFleet has no cluster "${cluster}"`);
    return c;
  }
}
