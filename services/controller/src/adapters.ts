import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Subjects } from '@shoal/common';
import type {
  ConfigAssigner,
  ConvergenceProbe,
  ConvergenceReport,
  EventPublisher,
  ShoalEvent,
} from '@shoal/workflows';
import { queryConvergence, type ConfigStore } from '@shoal/xds';

/**
 * The rollout's assigner, on the xDS layer's config store: assigning makes every xDS replica
 * serve that version to the cluster's nodes.
 */
export class XdsAssigner implements ConfigAssigner {
  constructor(
    private readonly store: ConfigStore,
    private readonly by = 'rollout',
  ) {}

  async assign(cluster: string, version: string): Promise<void> {
    const cur = await this.store.getAssignment(cluster);
    if (cur?.version === version) return;
    await this.store.assign(cluster, version, this.by);
  }

  /** Rollback of a cluster's first version: its nodes are served an empty configuration. */
  async unassign(cluster: string): Promise<void> {
    await this.store.unassign(cluster);
  }

  async current(cluster: string): Promise<string | null> {
    return (await this.store.getAssignment(cluster))?.version ?? null;
  }
}

/** "Has every connected node of C ACKed V?", asked of every xDS replica over NATS. */
export class XdsConvergence implements ConvergenceProbe {
  constructor(private readonly nc: NatsConnection) {}

  async check(cluster: string, version: string): Promise<ConvergenceReport> {
    const c = await queryConvergence(this.nc, cluster, version);
    return {
      converged: c.converged,
      nodes: c.nodes.map((n) => ({
        node: n.node,
        ackedVersion: n.ackedVersion ?? null,
        ...(n.nack ? { nack: { version: n.nack.version, message: n.nack.message } } : {}),
      })),
    };
  }
}

/**
 * Rollout events onto the one write path. The rollout worker is a control-plane identity: its
 * events carry cluster `control-plane` (what ingest checks against the subject); the cluster a
 * step concerns moves into `data.targetCluster` (ingest reserves `data.cluster` for the subject cluster).
 */
export class ControlPlaneEventPublisher implements EventPublisher {
  private readonly js;

  constructor(nc: NatsConnection) {
    this.js = jetstream(nc);
  }

  async publish(event: ShoalEvent): Promise<void> {
    const { cluster, ...metadata } = event.metadata;
    const { cluster: dataCluster, ...data } = event.data;
    const target = cluster ?? dataCluster;
    const e = {
      ...event,
      data: { ...data, ...(target !== undefined ? { targetCluster: target } : {}) },
      metadata: { ...metadata, cluster: 'control-plane' },
    };
    await this.js.publish(Subjects.event('control-plane', 'rollout'), JSON.stringify(e), {
      msgID: e.id,
    });
  }
}
