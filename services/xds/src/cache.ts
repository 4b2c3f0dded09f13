/**
 * The snapshot cache: (cluster, node) → the snapshot of the version assigned to the cluster.
 * Fed by the ConfigStore's assignments (and, with autoAssignNewest, by newly published
 * versions). A node snapshot that fails the consistency check is not served: the node keeps
 * the snapshot it had, and the problem is logged, counted and reported in `problems()`.
 */
import type { Logger, Runner } from '@shoal/common';
import { InconsistentSnapshotError } from './errors.js';
import { consistencyIssues, snapshotFromBundle, type Snapshot } from './core/snapshot.js';
import type { XdsMetrics } from './metrics.js';
import type { Assignment, ConfigStore, Published, Stoppable } from './store/config-store.js';

type Listener = (s: Snapshot) => void;

interface ClusterState {
  version: string | undefined;
  readonly nodes: Map<string, Snapshot>;
  /** The newest assignment seen; loads of older ones are dropped when they finish. */
  wanted: string | undefined;
  loading: Promise<void>;
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
    this.watches.push(await this.opts.store.watchAssignments((a) => this.onAssignment(a)));
    if (this.opts.autoAssignNewest) {
      this.watches.push(await this.opts.store.watchPublished((p) => this.onPublished(p)));
    }
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
    const current = this.clusters.get(p.cluster)?.wanted;
    if (current === p.version) return;
    this.opts.store.assign(p.cluster, p.version, 'auto-newest').catch((err: unknown) => {
      this.opts.logger.error({ err, cluster: p.cluster, version: p.version }, 'auto-assign failed');
    });
  }

  private onAssignment(a: Assignment): void {
    let c = this.clusters.get(a.cluster);
    if (!c) {
      c = { version: undefined, nodes: new Map(), wanted: undefined, loading: Promise.resolve() };
      this.clusters.set(a.cluster, c);
    }
    if (c.wanted === a.version) return;
    c.wanted = a.version;
    const state = c;
    // One load at a time per cluster, newest wins.
    state.loading = state.loading.then(() => this.load(state, a));
  }

  private async load(c: ClusterState, a: Assignment): Promise<void> {
    if (c.wanted !== a.version) return;
    const log = this.opts.logger.child({ cluster: a.cluster, version: a.version });
    let bundles;
    try {
      bundles = await this.opts.store.loadVersion(a.cluster, a.version);
    } catch (err) {
      log.error({ err }, 'cannot load the assigned config version; keeping the served one');
      return;
    }
    if (c.wanted !== a.version) return;
    const changed: [string, Snapshot][] = [];
    const built = new Map<readonly unknown[], { snap: Snapshot; issues: string[] }>();
    for (const [node, bundle] of bundles) {
      let b = built.get(bundle.resources);
      if (!b) {
        const snap = snapshotFromBundle(bundle);
        b = { snap, issues: consistencyIssues(snap) };
        built.set(bundle.resources, b);
      }
      const { snap, issues } = b;
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
    for (const node of [...c.nodes.keys()]) if (!bundles.has(node)) c.nodes.delete(node);
    if (c.version)
      this.opts.metrics?.servedVersion.remove({ cluster: a.cluster, version: c.version });
    c.version = a.version;
    this.opts.metrics?.servedVersion.set({ cluster: a.cluster, version: a.version }, 1);
    log.info({ nodes: bundles.size, by: a.by }, 'serving config version');
    for (const [node, snap] of changed) {
      for (const cb of this.listeners.get(`${a.cluster}/${node}`) ?? []) cb(snap);
    }
    for (const w of [...this.versionWaiters]) w();
  }
}
