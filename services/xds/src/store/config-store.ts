/**
 * Where config versions and their assignment live, shared by every xDS replica so they all
 * serve the same thing. Config versions are immutable and content-addressed (the compiler names
 * a version by the hash of its content); an assignment says which version a cluster runs.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { NodeConfigBundle, XdsResource } from '@shoal/proto';

/** The version nodes of an unassigned cluster are served: no resources at all. */
export const UNASSIGNED_VERSION = 'unassigned';

export interface Assignment {
  readonly cluster: string;
  readonly version: string;
  readonly assignedAt: string;
  /** Who assigned it: a rollout id, `auto-newest`, an operator. */
  readonly by: string;
}

export interface Published {
  readonly cluster: string;
  readonly version: string;
  readonly publishedAt: string;
}

/** All node bundles of one cluster at one version, by node name. */
export type VersionBundles = ReadonlyMap<string, NodeConfigBundle>;

export interface Stoppable {
  stop(): void;
}

export interface ConfigStore {
  /** Store every node's bundle of a version. Idempotent; different content under the same
   *  version is refused (ConfigVersionConflictError). */
  publishVersion(
    cluster: string,
    version: string,
    bundles: readonly NodeConfigBundle[],
  ): Promise<void>;
  /** Make `version` (published before) the one cluster `cluster` is served. */
  assign(cluster: string, version: string, by: string): Promise<Assignment>;
  /**
   * Serve the cluster no version at all (a rollback of its first rollout): its nodes are sent
   * an empty configuration, versioned UNASSIGNED_VERSION. Idempotent.
   */
  unassign(cluster: string): Promise<void>;
  getAssignment(cluster: string): Promise<Assignment | undefined>;
  loadVersion(cluster: string, version: string): Promise<VersionBundles>;
  /**
   * Calls back with every current assignment, then with every change, until stopped;
   * `onUnassigned` with every cluster unassigned after the watch started.
   */
  watchAssignments(
    onAssignment: (a: Assignment) => void,
    onUnassigned?: (cluster: string) => void,
  ): Promise<Stoppable>;
  /** Calls back with the newest published version of each cluster, then with every new one. */
  watchPublished(onPublished: (p: Published) => void): Promise<Stoppable>;
}

/**
 * The stored form of a version: resources shared by several nodes are kept once (a cluster's
 * nodes mostly receive the same listeners and clusters), gzip-compressed.
 */
interface StoredVersion {
  readonly cluster: string;
  readonly version: string;
  readonly resources: { typeUrl: string; name: string; version: string; value: string }[];
  readonly nodes: Record<string, number[]>;
}

export function encodeVersion(
  cluster: string,
  version: string,
  bundles: readonly NodeConfigBundle[],
): Uint8Array {
  const index = new Map<string, number>();
  const resources: StoredVersion['resources'] = [];
  const nodes: Record<string, number[]> = {};
  const sorted = [...bundles].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  for (const b of sorted) {
    if (b.cluster !== cluster || b.version !== version) {
      throw new Error(
        `bundle of node ${b.cluster}/${b.node} is for version ${b.version}, not ${cluster}/${version}`,
      );
    }
    const refs: number[] = [];
    for (const r of b.resources) {
      const key = `${r.typeUrl}\u0000${r.name}\u0000${r.version}`;
      let i = index.get(key);
      if (i === undefined) {
        i = resources.length;
        index.set(key, i);
        resources.push({
          typeUrl: r.typeUrl,
          name: r.name,
          version: r.version,
          value: Buffer.from(r.value).toString('base64'),
        });
      }
      refs.push(i);
    }
    nodes[b.node] = refs.sort((x, y) => x - y);
  }
  const stored: StoredVersion = { cluster, version, resources, nodes };
  return gzipSync(Buffer.from(JSON.stringify(stored)));
}

export function decodeVersion(bytes: Uint8Array): VersionBundles {
  const s = JSON.parse(gunzipSync(bytes).toString('utf8')) as StoredVersion;
  const resources: XdsResource[] = s.resources.map((r) => ({
    typeUrl: r.typeUrl,
    name: r.name,
    version: r.version,
    value: new Uint8Array(Buffer.from(r.value, 'base64')),
  }));
  const out = new Map<string, NodeConfigBundle>();
  // Nodes with the same resources share one array, so the cache builds their snapshot once.
  const shared = new Map<string, readonly XdsResource[]>();
  for (const [node, refs] of Object.entries(s.nodes)) {
    const key = refs.join(',');
    let list = shared.get(key);
    if (!list) shared.set(key, (list = refs.map((i) => resources[i]!)));
    out.set(node, { cluster: s.cluster, node, version: s.version, resources: list });
  }
  return out;
}
