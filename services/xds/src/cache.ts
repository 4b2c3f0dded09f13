/**
 * The snapshot cache: (cluster, node) → the snapshot of the version assigned to the cluster.
 * Fed by the ConfigStore's assignments (and, with autoAssignNewest, by newly published
 * versions). A node snapshot that fails the consistency check is not served: the node keeps
 * the snapshot it had, and the problem is logged, counted and reported in `problems()`.
 *
 * A version is loaded and its snapshots built once, and the last few are kept: the newest
 * published version of a served cluster is prepared before it is assigned (so an assignment
 * goes straight to the push), and a rollback to the previous version needs no reload.
 */
import type { Logger, Runner } from '@shoal/common';
import { InconsistentSnapshotError } from './errors.js';
import {
  consistencyIssues,
  snapshotFromBundle,
  snapshotOf,
  type Snapshot,
} from './core/snapshot.js';
import type { XdsMetrics } from './metrics.js';
import {
  UNASSIGNED_VERSION,
  type Assignment,
  type ConfigStore,
  type Published,
  type Stoppable,
  type VersionBundles,
} from './store/config-store.js';

type Listener = (s: Snapshot) => void;

/** A loaded version: each node's snapshot and what the consistency check found in it. */
interface Prepared {
  readonly nodes: ReadonlyMap<string, { readonly snap: Snapshot; readonly issues: string[] }>;
}

/** Prepared versions kept per cluster: the served one, the one before it, the newest published. */
const KEEP_PREPARED = 3;

interface ClusterState {
  version: string | undefined;
  readonly nodes: Map<string, Snapshot>;
  /** The newest assignment seen; loads of older ones are dropped when they finish. */
  wanted: string | undefined;
  loading: Promise<void>;
  /** By version, least recently used first. */
  readonly prepared: Map<string, Promise<Prepared>>;
}

export interface SnapshotCacheOptions {
  readonly store: ConfigStore;
  readonly logger: Logger;
  readonly metrics?: XdsMetrics;
  /** Until the rollout layer assigns versions: assign the newest published one. */
  readonly autoAssignNewest?: boolean;
}

export class SnapshotCache implements Runner {
  readonly name = 'xds-snapshot-cache';
  private readonly clusters = new Map<string, ClusterState>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly inconsistent = new Map<string, InconsistentSnapshotError>();
  private readonly watches: Stoppable[] = [];
  private readonly versionWaiters = new Set<() => void>();

  constructor(private readonly opts: SnapshotCacheOptions) {}

  async start(): Promise<void> {
    this.watches.push(
      await this.opts.store.watchAssignments(
        (a) => this.onAssignment(a),
        (cluster) => this.onUnassigned(cluster),
      ),
    );
    this.watches.push(await this.opts.store.watchPublished((p) => this.onPublished(p)));
  }

  async close(): Promise<void> {
    for (const w of this.watches.splice(0)) w.stop();
    await Promise.allSettled([...this.clusters.values()].map((c) => c.loading));
  }

  /** The version being served to a cluster. */
  servedVersion(cluster: string): string | undefined {
    return this.clusters.get(cluster)?.version;
  }

  current(cluster: string, node: string): Snapshot | undefined {
    return this.clusters.get(cluster)?.nodes.get(node);
  }

  /** Called with every new snapshot of the node until the returned function is called. */
  subscribe(cluster: string, node: string, cb: Listener): () => void {
    const key = `${cluster}/${node}`;
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0) this.listeners.delete(key);
    };
  }

  /** Node snapshots refused by the consistency check, newest per node. */
  problems(cluster?: string): InconsistentSnapshotError[] {
    return [...this.inconsistent.values()].filter(
      (e) => cluster === undefined || e.details.cluster === cluster,
    );
  }

  /** Resolves once `cluster` is served `version` (tests, tools). */
  async waitForVersion(cluster: string, version: string, timeoutMs = 10_000): Promise<void> {
    if (this.servedVersion(cluster) === version) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.servedVersion(cluster) !== version) return;
        clearTimeout(timer);
        this.versionWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.versionWaiters.delete(check);
        reject(
          new Error(`cluster ${cluster} was not served version ${version} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.versionWaiters.add(check);
    });
  }

  private onPublished(p: Published): void {
    const c = this.clusters.get(p.cluster);
    if (c?.wanted === p.version) return;
    if (this.opts.autoAssignNewest) {
      this.opts.store.assign(p.cluster, p.version, 'auto-newest').catch((err: unknown) => {
        this.opts.logger.error(
          { err, cluster: p.cluster, version: p.version },
          'auto-assign failed',
        );
      });
    }
    // A cluster this replica serves will most likely be assigned its newest version next.
    if (c) {
      this.prepare(p.cluster, c, p.version).catch((err: unknown) => {
        this.opts.logger.debug(
          { err, cluster: p.cluster, version: p.version },
          'cannot prepare a published config version ahead of its assignment',
        );
      });
    }
  }

  private onAssignment(a: Assignment): void {
    let c = this.clusters.get(a.cluster);
    if (!c) {
      c = {
        version: undefined,
        nodes: new Map(),
        wanted: undefined,
        loading: Promise.resolve(),
        prepared: new Map(),
      };
      this.clusters.set(a.cluster, c);
    }
    if (c.wanted === a.version) return;
    c.wanted = a.version;
    const state = c;
    // One load at a time per cluster, newest wins.
    state.loading = state.loading.then(() => this.load(state, a));
  }

  /**
   * The cluster is served no version (its first rollout was rolled back): every node of it
   * gets an empty configuration, so what the failed version put there is gone; new streams
   * wait for the next assignment.
   */
  private onUnassigned(cluster: string): void {
    const c = this.clusters.get(cluster);
    if (!c || c.wanted === undefined) return;
    c.wanted = undefined;
    c.loading = c.loading.then(() => {
      if (c.wanted !== undefined) return;
      const empty = snapshotOf(UNASSIGNED_VERSION, []);
      const nodes = [...c.nodes.keys()];
      c.nodes.clear();
      if (c.version) this.opts.metrics?.servedVersion.remove({ cluster, version: c.version });
      c.version = undefined;
      this.opts.logger.info(
        { cluster, nodes: nodes.length },
        'cluster unassigned: serving nothing',
      );
      for (const node of nodes)
        for (const cb of this.listeners.get(`${cluster}/${node}`) ?? []) cb(empty);
      for (const w of [...this.versionWaiters]) w();
    });
  }

  private async load(c: ClusterState, a: Assignment): Promise<void> {
    if (c.wanted !== a.version) return;
    const log = this.opts.logger.child({ cluster: a.cluster, version: a.version });
    let prepared: Prepared;
    try {
      prepared = await this.prepare(a.cluster, c, a.version);
    } catch (err) {
      log.error({ err }, 'cannot load the assigned config version; keeping the served one');
      return;
    }
    if (c.wanted !== a.version) return;
    const changed: [string, Snapshot][] = [];
    for (const [node, { snap, issues }] of prepared.nodes) {
      const key = `${a.cluster}/${node}`;
      if (issues.length > 0) {
        const err = new InconsistentSnapshotError(a.cluster, node, a.version, issues);
        this.inconsistent.set(key, err);
        this.opts.metrics?.inconsistent.inc({ cluster: a.cluster });
        log.error({ node, issues }, err.message);
        continue;
      }
      this.inconsistent.delete(key);
      c.nodes.set(node, snap);
      changed.push([node, snap]);
    }
    // A node the new version has no bundle for gets no config from it (its open streams keep
    // what they have; new streams wait).
    for (const node of [...c.nodes.keys()]) if (!prepared.nodes.has(node)) c.nodes.delete(node);
    if (c.version)
      this.opts.metrics?.servedVersion.remove({ cluster: a.cluster, version: c.version });
    c.version = a.version;
    this.opts.metrics?.servedVersion.set({ cluster: a.cluster, version: a.version }, 1);
    log.info({ nodes: prepared.nodes.size, by: a.by }, 'serving config version');
    for (const [node, snap] of changed) {
      for (const cb of this.listeners.get(`${a.cluster}/${node}`) ?? []) cb(snap);
    }
    for (const w of [...this.versionWaiters]) w();
  }

  /** Load a version and build its snapshots, once while it is among the last few used. */
  private prepare(cluster: string, c: ClusterState, version: string): Promise<Prepared> {
    let p = c.prepared.get(version);
    if (p) {
      c.prepared.delete(version); // most recently used last
    } else {
      p = this.opts.store.loadVersion(cluster, version).then(prepareVersion);
      const mine = p;
      // A failed load is not kept: the next assignment of the version tries again.
      p.catch(() => {
        if (c.prepared.get(version) === mine) c.prepared.delete(version);
      });
    }
    c.prepared.set(version, p);
    for (const v of c.prepared.keys()) {
      if (c.prepared.size <= KEEP_PREPARED) break;
      c.prepared.delete(v);
    }
    return p;
  }
}

/** Each node's snapshot, built once per distinct resource list (nodes mostly share one). */
function prepareVersion(bundles: VersionBundles): Prepared {
  const nodes = new Map<string, { snap: Snapshot; issues: string[] }>();
  const built = new Map<readonly unknown[], { snap: Snapshot; issues: string[] }>();
  for (const [node, bundle] of bundles) {
    let b = built.get(bundle.resources);
    if (!b) {
      const snap = snapshotFromBundle(bundle);
      b = { snap, issues: consistencyIssues(snap) };
      built.set(bundle.resources, b);
    }
    nodes.set(node, b);
  }
  return { nodes };
}
