/**
 * NATS adapters for the rollout ports.
 *
 * Protocols (the xDS layer and fleet registry answer them; SimulatedFleet does in tests):
 * - assignments: KV bucket, key = cluster, value = version (UTF-8); a deleted key = no version.
 * - convergence: request `{cluster, version}` → `{converged, nodes: [{node, ackedVersion, nack?}]}`
 *   ("has every connected node of cluster C ACKed V?").
 * - health: request `{cluster, version}` → `{requests, errors, p99Ms}` or `null`.
 * - fleet: request `{}` → `{clusters: [{name, kind, labels, online}]}`.
 * - events: JetStream publish to `shoal.ev.<eventsCluster>.rollout`, Nats-Msg-Id = event id.
 *
 * Names default to RolloutNatsDefaults; the lead reconciles them with services/xds and names.ts.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Subjects } from '@shoal/common';
import { ProtocolError } from '../../errors.js';
import type { ShoalEvent } from '../events.js';
import type {
  ConfigAssigner,
  ConvergenceProbe,
  EventPublisher,
  FleetDirectory,
  HealthSource,
  RolloutDeps,
} from '../ports.js';
import type { ConvergenceReport, FleetCluster, HealthSample } from '../types.js';

export interface RolloutNatsNames {
  readonly assignmentsBucket: string;
  readonly convergenceSubject: string;
  readonly healthSubject: string;
  readonly fleetSubject: string;
  /** Cluster token of the subject rollout events are published on. */
  readonly eventsCluster: string;
}

export const RolloutNatsDefaults: RolloutNatsNames = {
  assignmentsBucket: 'shoal-assignments',
  convergenceSubject: 'shoal.xds.convergence',
  healthSubject: 'shoal.health.query',
  fleetSubject: 'shoal.fleet.list',
  eventsCluster: 'control-plane',
};

const enc = new TextEncoder();

async function ask<T>(
  nc: NatsConnection,
  what: string,
  subject: string,
  body: unknown,
  timeoutMs: number,
): Promise<T> {
  let text: string;
  try {
    const msg = await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: timeoutMs });
    text = msg.string();
  } catch (err) {
    throw new ProtocolError(what, subject, 'no answer (is the responder running?)', err);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ProtocolError(what, subject, `answer is not JSON: ${text.slice(0, 200)}`, err);
  }
}

export class KvConfigAssigner implements ConfigAssigner {
  constructor(private readonly kv: KV) {}

  async assign(cluster: string, version: string): Promise<void> {
    await this.kv.put(cluster, enc.encode(version));
  }

  async unassign(cluster: string): Promise<void> {
    await this.kv.delete(cluster);
  }

  async current(cluster: string): Promise<string | null> {
    const e = await this.kv.get(cluster);
    return e && e.operation === 'PUT' ? e.string() : null;
  }
}

export class NatsConvergenceProbe implements ConvergenceProbe {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly timeoutMs = 5_000,
  ) {}

  async check(cluster: string, version: string): Promise<ConvergenceReport> {
    const r = await ask<ConvergenceReport>(
      this.nc,
      'convergence query',
      this.subject,
      { cluster, version },
      this.timeoutMs,
    );
    if (typeof r?.converged !== 'boolean' || !Array.isArray(r.nodes)) {
      throw new ProtocolError('convergence query', this.subject, 'answer lacks converged/nodes');
    }
    return r;
  }
}

export class NatsHealthSource implements HealthSource {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly timeoutMs = 5_000,
  ) {}

  sample(cluster: string, version: string): Promise<HealthSample | null> {
    return ask(this.nc, 'health query', this.subject, { cluster, version }, this.timeoutMs);
  }
}

export class NatsFleetDirectory implements FleetDirectory {
  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async list(): Promise<FleetCluster[]> {
    const r = await ask<{ clusters?: FleetCluster[] }>(
      this.nc,
      'fleet query',
      this.subject,
      {},
      this.timeoutMs,
    );
    if (!Array.isArray(r?.clusters)) {
      throw new ProtocolError('fleet query', this.subject, 'answer lacks clusters');
    }
    return r.clusters;
  }
}

export class NatsEventPublisher implements EventPublisher {
  private readonly js;
  private readonly subject: string;

  constructor(nc: NatsConnection, eventsCluster: string) {
    this.js = jetstream(nc);
    this.subject = Subjects.event(eventsCluster, 'rollout');
  }

  async publish(event: ShoalEvent): Promise<void> {
    await this.js.publish(this.subject, enc.encode(JSON.stringify(event)), { msgID: event.id });
  }
}

export async function openAssignments(nc: NatsConnection, bucket: string): Promise<KV> {
  return new Kvm(nc).create(bucket, { history: 1 });
}

/** Every rollout port over NATS. */
export async function natsRolloutDeps(
  nc: NatsConnection,
  names: RolloutNatsNames = RolloutNatsDefaults,
): Promise<RolloutDeps> {
  return {
    assigner: new KvConfigAssigner(await openAssignments(nc, names.assignmentsBucket)),
    probe: new NatsConvergenceProbe(nc, names.convergenceSubject),
    health: new NatsHealthSource(nc, names.healthSubject),
    events: new NatsEventPublisher(nc, names.eventsCluster),
    fleet: new NatsFleetDirectory(nc, names.fleetSubject),
  };
}
