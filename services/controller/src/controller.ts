import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import type { Client } from '@temporalio/client';
import pg from 'pg';
import { Subjects, type Logger, type Runner } from '@shoal/common';
import {
  START,
  EventStore,
  fleetIdentity,
  fleetRolloutScope,
  newEventId,
  subscribe,
  type RecordedEvent,
  type Subscription,
} from '@shoal/db';
import { IncrementalCompiler, type FleetConfig } from '@shoal/compiler';
import {
  resourceKey,
  type MeshResource,
  type PlacedResource,
  type RolloutPolicy as PolicyResource,
} from '@shoal/model';
import {
  submitVersion,
  type FleetCluster,
  type FleetDirectory,
  type RolloutPolicy,
} from '@shoal/workflows';
import type { ConfigStore } from '@shoal/xds';
import { fleetVersion, placeResources, type DesiredRow } from './placement.js';
import { DEFAULT_POLICY, toWorkflowPolicy } from './policy.js';
import { nodeChanges, previewFleet, type NodeChange, type PlannedChange } from './preview.js';

export interface ControllerOptions {
  readonly databaseUrl: string;
  readonly nc: NatsConnection;
  readonly configStore: ConfigStore;
  readonly logger: Logger;
  /** Rollouts through Temporal; without it every new version is assigned at once. */
  readonly temporal?: Client;
  readonly taskQueue?: string;
  /**
   * The Temporal rollout scope this fleet submits to. Default: named after the store's fleet
   * identity (`fleetRolloutScope`), so fleets sharing a Temporal namespace stay apart.
   */
  readonly rolloutScope?: string;
  /** Coalesce bursts of events into one compile. */
  readonly debounceMs?: number;
  /** A cluster whose agent was silent this long is offline (for the offline-edge rule). */
  readonly offlineAfterMs?: number;
  /** SPIFFE trust domain of the fleet's CA, for clusters that do not name one. */
  readonly trustDomain?: string;
  /**
   * How many nodes of a cluster are connected to the xDS layer now. An edge site with none is
   * offline even while its agent still sends heartbeats (the uplink of its nodes is down).
   */
  readonly connectedNodes?: (cluster: string) => Promise<number>;
}

export interface CompiledVersion {
  readonly version: string;
  /** The rollout that moves the fleet to this version (unique per compile). */
  readonly rolloutId: string;
  readonly clusters: ReadonlyMap<string, { contentVersion: string; nodes: number }>;
  readonly position: number;
}

/** A workload scheduled on a node, as the CA needs it to decide which certificates a node may get. */
export interface ScheduledWorkloadRef {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly ip: string;
}

export interface Controller extends Runner, FleetDirectory {
  /** Workloads the desired state schedules on a node (the CA's WorkloadRegistry). */
  workloadsOn(node: { cluster: string; node: string }): Promise<readonly ScheduledWorkloadRef[]>;
  /** The newest fleet version compiled and published (undefined before the first). */
  readonly latest: CompiledVersion | undefined;
  /** The Temporal rollout scope of this fleet (known once started). */
  readonly rolloutScope: string;
  /** Resolves once the state up to `position` has been compiled. */
  caughtUp(position: number, timeoutMs?: number): Promise<CompiledVersion | undefined>;
  lastFleet(): FleetConfig | undefined;
  /** The rollout policy in force (the RolloutPolicy named "default", else the first, else all at once). */
  currentPolicy(): RolloutPolicy;
  /** Per node, what applying `changes` to the desired state would change (`shoal diff`). */
  previewNodes(changes: readonly PlannedChange[]): NodeChange[];
}

const CONTROL_CLUSTER = 'control-plane';

/**
 * The control loop between the event store and the data plane: follows the store, keeps the
 * desired state, compiles it incrementally into per-cluster config (one fleet version per
 * distinct output), publishes every node's bundle to the xDS config store, records
 * `ConfigVersionCompiled`, and hands the version to the rollout workflow (or assigns it).
 */
export function createController(opts: ControllerOptions): Controller {
  const log = opts.logger.child({ component: 'controller' });
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 3 });
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed'));
  const store = new EventStore(pool);
  const rows = new Map<string, DesiredRow>();
  const heartbeats = new Map<string, number>();
  const compiler = new IncrementalCompiler();
  let placed = new Map<string, PlacedResource>();
  let sub: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let rolloutScope = opts.rolloutScope ?? '';
  let position = 0;
  let compiledAt = 0;
  let latest: CompiledVersion | undefined;
  let fleet: FleetConfig | undefined;
  let running: Promise<void> = Promise.resolve();
  const waiters: { position: number; resolve: () => void }[] = [];
  /** Rollout id → the store position its version was compiled from. */
  const rollouts = new Map<string, { version: string; position: number }>();
  let lastGood: { rolloutId: string; position: number } | undefined;
  /** Rolled-back rollouts whose operator changes still have to be reverted. */
  const toRevert: { eventId: string; rolloutId: string; reason: string }[] = [];

  const fold = (e: RecordedEvent) => {
    position = Math.max(position, e.position);
    const d = e.data as Record<string, unknown>;
    const key = `${String(d.cluster)}/${String(d.kind)}/${String(d.namespace)}/${String(d.name)}`;
    if (e.type === 'ResourceUpserted') {
      rows.set(key, {
        cluster: String(d.cluster),
        kind: String(d.kind),
        namespace: String(d.namespace),
        name: String(d.name),
        spec: d.spec as unknown as MeshResource,
      });
    } else if (e.type === 'ResourceDeleted') rows.delete(key);
    else if (e.type === 'ConfigVersionCompiled' && typeof d.rolloutId === 'string') {
      rollouts.set(d.rolloutId, { version: String(d.version), position: Number(d.position) });
    } else if (e.type === 'RolloutCompleted' && rollouts.has(String(d.rolloutId))) {
      lastGood = {
        rolloutId: String(d.rolloutId),
        position: rollouts.get(String(d.rolloutId))!.position,
      };
    } else if (e.type === 'RolloutRolledBack' && rollouts.has(String(d.rolloutId))) {
      toRevert.push({
        eventId: e.id,
        rolloutId: String(d.rolloutId),
        reason: String(d.reason ?? ''),
      });
    } else if (e.type === 'ClusterHeartbeat' || e.type === 'ClusterRegistered') {
      heartbeats.set(
        String((e.metadata as Record<string, unknown>).cluster),
        e.recordedAt.getTime(),
      );
    }
  };

  const policy = (): RolloutPolicy => {
    const policies = [...rows.values()]
      .filter((r) => r.kind === 'RolloutPolicy')
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const chosen = policies.find((p) => p.name === 'default') ?? policies[0];
    return chosen ? toWorkflowPolicy(chosen.spec as PolicyResource) : DEFAULT_POLICY;
  };

  async function publishEvent(type: string, data: Record<string, unknown>, correlationId: string) {
    const e = {
      id: newEventId(),
      stream: 'config/fleet',
      type,
      data,
      metadata: {
        actor: 'system:controller',
        source: 'controller',
        cluster: CONTROL_CLUSTER,
        observedAt: new Date().toISOString(),
        correlationId,
      },
      schemaVersion: 1,
    };
    await jetstream(opts.nc).publish(
      Subjects.event(CONTROL_CLUSTER, 'ConfigVersion'),
      JSON.stringify(e),
      { msgID: e.id },
    );
  }

  async function compileOnce(): Promise<void> {
    const upTo = position;
    const next = new Map(
      placeResources(rows.values(), { trustDomain: opts.trustDomain }).map((p) => [
        `${p.cluster}|${resourceKey(p)}`,
        p,
      ]),
    );
    for (const [k, p] of placed)
      if (!next.has(k)) compiler.apply({ type: 'delete', key: resourceKey(p) });
    for (const [k, p] of next)
      if (placed.get(k) !== p) compiler.apply({ type: 'upsert', resource: p });
    placed = next;
    const out = compiler.output();
    fleet = out;
    const versions = new Map([...out.clusters].map(([c, cfg]) => [c, cfg.version]));
    const version = fleetVersion(versions);
    if (versions.size === 0 || version === latest?.version) {
      compiledAt = upTo;
      return;
    }
    for (const [cluster, cfg] of out.clusters) {
      const bundles = [...cfg.nodes.values()].map((b) => ({ ...b, version }));
      await opts.configStore.publishVersion(cluster, version, bundles);
    }
    const clusters = new Map(
      [...out.clusters].map(([c, cfg]) => [
        c,
        { contentVersion: cfg.version, nodes: cfg.nodes.size },
      ]),
    );
    const rolloutId = `rollout-${version}-p${upTo}`;
    rollouts.set(rolloutId, { version, position: upTo });
    latest = { version, rolloutId, clusters, position: upTo };
    compiledAt = upTo;
    log.info(
      { version, clusters: clusters.size, position: upTo, errors: out.errors.length },
      'config version compiled',
    );
    await publishEvent(
      'ConfigVersionCompiled',
      {
        version,
        position: upTo,
        clusters: Object.fromEntries(clusters),
        errors: out.errors.length,
      },
      version,
    );
    const p = policy();
    if (opts.temporal) {
      await submitVersion(
        opts.temporal,
        rolloutScope,
        { rolloutId, policy: p, targetVersion: version },
        opts.taskQueue,
      );
      log.info({ version, policy: p.name }, 'rollout submitted');
    } else {
      for (const cluster of out.clusters.keys())
        await opts.configStore.assign(cluster, version, 'controller (no rollouts)');
    }
  }

  /**
   * A rollout rolled back: the fleet runs the last good version again, so the desired state
   * goes back too. Operator changes (source "api") made after the last good rollout's position
   * are reverted with compensating events (actor system:rollback, causation = the rollback
   * event), so the log, the desired state and what runs agree. Agent-reported state is left
   * alone: it describes what exists. Each rollback is reverted once (checked in the store).
   */
  async function revertRolledBack(): Promise<void> {
    for (const r of toRevert.splice(0)) {
      const bad = rollouts.get(r.rolloutId);
      if (!bad || !lastGood || bad.position <= lastGood.position) continue;
      if (latest && latest.rolloutId !== r.rolloutId && latest.position > bad.position) continue;
      const done = await pool.query(
        "select 1 from events where metadata->>'causationId' = $1 limit 1",
        [r.eventId],
      );
      if (done.rowCount) continue;
      const changed = await pool.query<{ stream: string; data: Record<string, unknown> }>(
        `select distinct on (stream) stream, data from events
         where position > $1 and type in ('ResourceUpserted', 'ResourceDeleted') and metadata->>'source' = 'api'
         order by stream, position desc`,
        [lastGood.position],
      );
      for (const c of changed.rows) {
        const before = await pool.query<{ type: string; data: Record<string, unknown> }>(
          `select type, data from events where stream = $1 and position <= $2 order by position desc limit 1`,
          [c.stream, lastGood.position],
        );
        const prev = before.rows[0];
        const key = {
          cluster: String(c.data.cluster),
          kind: String(c.data.kind),
          namespace: String(c.data.namespace),
          name: String(c.data.name),
        };
        const restore = prev?.type === 'ResourceUpserted';
        const e = {
          id: newEventId(),
          stream: c.stream,
          type: restore ? 'ResourceUpserted' : 'ResourceDeleted',
          data: restore ? { ...key, spec: prev.data.spec } : key,
          metadata: {
            actor: 'system:rollback',
            source: 'controller',
            cluster: key.cluster,
            observedAt: new Date().toISOString(),
            correlationId: r.rolloutId,
            causationId: r.eventId,
            reason: `rollout ${r.rolloutId} rolled back: ${r.reason}`,
          },
          schemaVersion: 1,
        };
        await jetstream(opts.nc).publish(Subjects.event(key.cluster, key.kind), JSON.stringify(e), {
          msgID: e.id,
        });
        log.warn(
          { stream: c.stream, rolloutId: r.rolloutId },
          'reverted an operator change of a rolled-back rollout',
        );
      }
    }
  }

  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = running
        .then(revertRolledBack)
        .then(compileOnce)
        .catch((err: unknown) => {
          log.error({ err }, 'compile/publish failed; retrying');
          setTimeout(schedule, 1000).unref();
        })
        .then(() => {
          for (const w of waiters.splice(0)) {
            if (compiledAt >= w.position) w.resolve();
            else waiters.push(w);
          }
        });
    }, opts.debounceMs ?? 100);
  };

  return {
    name: 'controller',
    get latest() {
      return latest;
    },
    get rolloutScope() {
      if (!rolloutScope) throw new Error('the controller has not started: no rollout scope yet');
      return rolloutScope;
    },
    lastFleet: () => fleet,
    currentPolicy: () => policy(),
    previewNodes: (changes) =>
      nodeChanges(fleet, previewFleet(rows.values(), changes, { trustDomain: opts.trustDomain })),
    async start() {
      rolloutScope ||= fleetRolloutScope(await fleetIdentity(pool));
      sub = subscribe(store, {
        from: START,
        logger: log,
        handler: async (events) => {
          events.forEach(fold);
          schedule();
        },
      });
    },
    async close() {
      if (timer) clearTimeout(timer);
      await sub?.close();
      await running.catch(() => undefined);
      await pool.end();
    },
    caughtUp(pos, timeoutMs = 15_000) {
      if (compiledAt >= pos) return Promise.resolve(latest);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`controller did not compile up to position ${pos} within ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
        waiters.push({ position: pos, resolve: () => (clearTimeout(t), resolve(latest)) });
      });
    },
    async workloadsOn(ref) {
      const out: ScheduledWorkloadRef[] = [];
      for (const r of rows.values()) {
        if (r.kind !== 'Workload' || (r.cluster !== ref.cluster && r.cluster !== 'global'))
          continue;
        const spec = (
          r.spec as unknown as {
            spec: { node: string; address?: string; addresses?: string[]; serviceAccount?: string };
          }
        ).spec;
        if (spec.node !== ref.node) continue;
        for (const ip of [spec.address, ...(spec.addresses ?? [])].filter((x): x is string =>
          Boolean(x),
        )) {
          out.push({
            namespace: r.namespace,
            serviceAccount: spec.serviceAccount ?? 'default',
            ip,
          });
        }
      }
      return out;
    },
    async list(): Promise<FleetCluster[]> {
      const now = Date.now();
      const after = opts.offlineAfterMs ?? 45_000;
      const out: FleetCluster[] = [];
      for (const r of rows.values()) {
        if (r.kind !== 'Cluster' && r.kind !== 'EdgeSite') continue;
        const seen = heartbeats.get(r.name);
        const kind = r.kind === 'EdgeSite' ? ('edge' as const) : ('cluster' as const);
        // Never heard from: assume online (clusters configured by hand have no agent).
        let online = seen === undefined || now - seen < after;
        if (online && kind === 'edge' && opts.connectedNodes) {
          online = (await opts.connectedNodes(r.name).catch(() => 1)) > 0;
        }
        out.push({ name: r.name, kind, labels: { ...(r.spec.metadata.labels ?? {}) }, online });
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : 1));
    },
  };
}
