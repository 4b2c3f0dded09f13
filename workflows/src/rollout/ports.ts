/**
 * What rollout activities need from the rest of Shoal, as small interfaces. The xDS layer,
 * the event store and the fleet registry implement them (see adapters/nats.ts for the NATS
 * protocols); tests use SimulatedFleet, which implements the same protocols with simulated nodes.
 */
import type { ConvergenceReport, FleetCluster, HealthSample } from './types.js';
import type { ShoalEvent } from './events.js';

/** Assigns config versions to clusters; the xDS layer serves the assigned version to its nodes. */
export interface ConfigAssigner {
  /** Idempotent: assigning the version a cluster already has changes nothing. */
  assign(cluster: string, version: string): Promise<void>;
  /** The cluster had no version before the rollout: take the assignment away. */
  unassign(cluster: string): Promise<void>;
  current(cluster: string): Promise<string | null>;
}

/** "Has every connected node of cluster C ACKed V?" */
export interface ConvergenceProbe {
  check(cluster: string, version: string): Promise<ConvergenceReport>;
}

/** Request statistics per cluster and version, from node stats. */
export interface HealthSource {
  /** null: no statistics for that version on that cluster. */
  sample(cluster: string, version: string): Promise<HealthSample | null>;
}

export interface EventPublisher {
  /** At-least-once; the event id makes a repeated publish a no-op downstream. */
  publish(event: ShoalEvent): Promise<void>;
}

export interface FleetDirectory {
  list(): Promise<FleetCluster[]>;
}

export interface RolloutDeps {
  readonly assigner: ConfigAssigner;
  readonly probe: ConvergenceProbe;
  readonly health: HealthSource;
  readonly events: EventPublisher;
  readonly fleet: FleetDirectory;
}
