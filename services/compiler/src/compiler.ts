/**
 * The compiler's driver: desired state (all clusters) → per cluster a content-addressed config
 * version and per node a NodeConfigBundle. `IncrementalCompiler` keeps the memoized units
 * between changes; `compileFleet` is the same code from an empty cache, so incremental output
 * equals full output by construction (and a property test checks it).
 */
import { resourceKey, type PlacedResource, type Workload } from '@shoal/model';
import { PROXYLESS_NODE, type NodeConfigBundle, type XdsResource } from '@shoal/proto';
import { routeStatus, type AnyRoute } from './gatewayapi/attach.js';
import { policyStatus, type PolicyKind } from './gatewayapi/policies.js';
import { cmp, digest, digestList } from './hash.js';
import { gatewayServiceAddress, serviceAddress, workloadAddress } from './l4/addresses.js';
import { authorizationUnit, peerAuthenticationUnit } from './l4/authorization.js';
import { Memo } from './memo.js';
import { FleetState, Keys } from './state.js';
import type { CompileIssue, ResourceStatus } from './status.js';
import { gatewayUnit } from './units/gateway.js';
import { proxylessUnit } from './units/proxyless.js';
import { compileWaypoint } from './units/waypoint.js';

export interface ClusterConfig {
  readonly cluster: string;
  /** Content hash of everything the cluster's nodes receive. */
  readonly version: string;
  readonly nodes: ReadonlyMap<string, NodeConfigBundle>;
  /** Gateway API style status of the cluster's resources, sorted by key. */
  readonly status: readonly ResourceStatus[];
}

export interface FleetConfig {
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  readonly errors: readonly CompileIssue[];
}

export interface CompileOptions {
  /** Clusters to compile even when no resource is tagged with them (e.g. new, empty ones). */
  readonly clusters?: readonly string[];
}

export type DesiredState = Iterable<PlacedResource>;

export type ResourceChange =
  | { readonly type: 'upsert'; readonly resource: PlacedResource }
  | { readonly type: 'delete'; readonly key: string };

const ROUTE_KINDS = ['HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute'] as const;
const POLICY_KINDS: PolicyKind[] = [
  'BackendTrafficPolicy',
  'ClientTrafficPolicy',
  'SecurityPolicy',
];

function byTypeAndName(a: XdsResource, b: XdsResource): number {
  return a.typeUrl === b.typeUrl ? cmp(a.name, b.name) : cmp(a.typeUrl, b.typeUrl);
}

function distinctNames(list: readonly PlacedResource[]): [string, string][] {
  const m = new Map<string, [string, string]>();
  for (const p of list)
    m.set(`${p.resource.metadata.namespace}/${p.resource.metadata.name}`, [
      p.resource.metadata.namespace ?? '',
      p.resource.metadata.name,
    ]);
  return [...m.entries()].sort(([a], [b]) => cmp(a, b)).map(([, v]) => v);
}

interface L4Fleet {
  readonly resources: readonly XdsResource[];
  readonly digest: string;
  readonly issues: readonly CompileIssue[];
}

export class IncrementalCompiler {
  private readonly state = new FleetState();
  private readonly memo = new Memo(this.state);
  private readonly clusterCounts = new Map<string, number>();

  constructor(private readonly options: CompileOptions = {}) {}

  /** Units computed since construction (for tests and benchmarks). */
  get computedUnits(): number {
    return this.memo.computed;
  }

  load(state: DesiredState): this {
    for (const p of state) this.apply({ type: 'upsert', resource: p });
    return this;
  }

  apply(change: ResourceChange): void {
    const key = change.type === 'upsert' ? resourceKey(change.resource) : change.key;
    const prev = this.state.get(key);
    const next = change.type === 'upsert' ? change.resource : undefined;
    if (prev) this.count(prev.cluster, -1);
    if (next) this.count(next.cluster, +1);
    this.memo.invalidate(this.state.apply(key, next));
  }

  private count(cluster: string, d: number) {
    const n = (this.clusterCounts.get(cluster) ?? 0) + d;
    if (n === 0) this.clusterCounts.delete(cluster);
    else this.clusterCounts.set(cluster, n);
  }

  output(): FleetConfig {
    const names = new Set([...this.clusterCounts.keys(), ...(this.options.clusters ?? [])]);
    for (const kind of ['Cluster', 'EdgeSite'])
      for (const p of this.state.query(Keys.fleet(kind))) names.add(p.resource.metadata.name);
    const clusters = new Map<string, ClusterConfig>();
    const errors: CompileIssue[] = [...this.l4Fleet().issues];
    for (const c of [...names].sort()) {
      const out = this.memo.unit(`cluster|${c}`, () => this.compileCluster(c));
      clusters.set(c, out.config);
      errors.push(...out.issues);
    }
    return { clusters, errors };
  }

  private l4Fleet(): L4Fleet {
    const m = this.memo;
    return m.unit('l4-fleet', () => {
      const outs = [
        ...distinctNames(m.query(Keys.fleet('Service'))).map(([ns, n]) => serviceAddress(m, ns, n)),
        ...distinctNames(m.query(Keys.fleet('Gateway'))).map(([ns, n]) =>
          gatewayServiceAddress(m, ns, n),
        ),
        ...m
          .query(Keys.fleet('Workload'))
          .map((p) =>
            workloadAddress(
              m,
              p.cluster,
              p.resource.metadata.namespace ?? '',
              p.resource.metadata.name,
            ),
          ),
      ];
      const resources = outs.flatMap((o) => (o.resource ? [o.resource] : [])).sort(byTypeAndName);
      return {
        resources,
        digest: digestList(resources.map((r) => `${r.name}\0${r.version}`)),
        issues: outs.flatMap((o) => o.issues),
      };
    });
  }

  private compileCluster(c: string): { config: ClusterConfig; issues: CompileIssue[] } {
    const m = this.memo;
    // Inside a unit, read the resource again through the memo so that the unit depends on it.
    const reread = (p: PlacedResource) =>
      m.one(p.resource.kind, c, p.resource.metadata.namespace ?? '', p.resource.metadata.name)!;
    const l4 = this.l4Fleet();
    const status: ResourceStatus[] = [];
    const authz: XdsResource[] = [];
    for (const p of m.query(Keys.inCluster('AuthorizationPolicy', c))) {
      const o = authorizationUnit(
        m,
        c,
        p.resource.metadata.namespace ?? '',
        p.resource.metadata.name,
      );
      if (o?.resource) authz.push(o.resource);
      if (o) status.push(o.status);
    }
    for (const p of m.query(Keys.inCluster('PeerAuthentication', c))) {
      const o = peerAuthenticationUnit(
        m,
        c,
        p.resource.metadata.namespace ?? '',
        p.resource.metadata.name,
      );
      if (o?.resource) authz.push(o.resource);
      if (o) status.push(o.status);
    }
    authz.sort(byTypeAndName);
    const l7ByNode = new Map<string, Map<string, XdsResource>>();
    for (const g of m.query(Keys.inCluster('Gateway', c))) {
      // The waypoint is compiled inside the gateway unit, which already depends on its info.
      const o = gatewayUnit(
        m,
        c,
        g.resource.metadata.namespace ?? '',
        g.resource.metadata.name,
        (info) => compileWaypoint(m, c, info),
      );
      if (!o) continue;
      status.push(o.status);
      for (const node of o.nodes) {
        let set = l7ByNode.get(node);
        if (!set) l7ByNode.set(node, (set = new Map()));
        for (const r of o.resources) set.set(`${r.typeUrl} ${r.name}`, r);
      }
    }
    for (const kind of ROUTE_KINDS)
      for (const p of m.query(Keys.inCluster(kind, c)))
        status.push(
          m.unit(
            `route-status|${c}|${kind}|${p.resource.metadata.namespace}|${p.resource.metadata.name}`,
            () => routeStatus(m, c, reread(p) as PlacedResource<AnyRoute>),
          ),
        );
    for (const kind of POLICY_KINDS)
      for (const p of m.query(Keys.inCluster(kind, c)))
        status.push(
          m.unit(
            `policy-status|${c}|${kind}|${p.resource.metadata.namespace}|${p.resource.metadata.name}`,
            () => policyStatus(m, c, reread(p) as never),
          ),
        );
    status.sort((a, b) => cmp(a.key, b.key));

    const proxyless = new Map<string, XdsResource>();
    for (const [ns, n] of distinctNames(m.query(Keys.fleet('Service'))))
      for (const r of proxylessUnit(m, c, ns, n).resources)
        proxyless.set(`${r.typeUrl} ${r.name}`, r);
    const proxylessList = [...proxyless.values()].sort(byTypeAndName);

    const nodes = new Set<string>(l7ByNode.keys());
    for (const w of m.query(Keys.inCluster('Workload', c)))
      nodes.add((w.resource as Workload).spec.node);
    const shared = [...l4.resources, ...authz];
    const authzDigest = digestList(authz.map((r) => `${r.name}\0${r.version}`));
    const nodeDigests: string[] = [];
    const parts: { node: string; resources: readonly XdsResource[] }[] = [];
    for (const node of [...nodes].sort()) {
      const l7 = [...(l7ByNode.get(node)?.values() ?? [])].sort(byTypeAndName);
      parts.push({ node, resources: l7.length ? [...shared, ...l7] : shared });
      nodeDigests.push(
        `${node}\0${digestList(l7.map((r) => `${r.typeUrl}\0${r.name}\0${r.version}`))}`,
      );
    }
    const proxylessDigest = digestList(
      proxylessList.map((r) => `${r.typeUrl}\0${r.name}\0${r.version}`),
    );
    const version = digest(c, l4.digest, authzDigest, proxylessDigest, ...nodeDigests);
    const bundles = new Map<string, NodeConfigBundle>();
    for (const p of parts)
      bundles.set(p.node, { cluster: c, node: p.node, version, resources: p.resources });
    bundles.set(PROXYLESS_NODE, {
      cluster: c,
      node: PROXYLESS_NODE,
      version,
      resources: proxylessList,
    });
    return { config: { cluster: c, version, nodes: bundles, status }, issues: [] };
  }
}

/** Full compile of the fleet: pure, deterministic (same input in any order → same versions). */
export function compileFleet(state: DesiredState, options: CompileOptions = {}): FleetConfig {
  return new IncrementalCompiler(options).load(state).output();
}
