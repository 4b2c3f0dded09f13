/**
 * ConfigStore on NATS JetStream: an object store of immutable versions (object
 * `<cluster>/<version>`), a KV bucket of assignments (key = cluster) that every xDS replica
 * watches, and a KV bucket of the newest published version per cluster.
 */
import { createHash } from 'node:crypto';
import { Buckets, assertSubjectToken } from '@shoal/common';
import type { NodeConfigBundle } from '@shoal/proto';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigVersionConflictError, ConfigVersionNotFoundError } from '../errors.js';
import {
  decodeVersion,
  encodeVersion,
  type Assignment,
  type ConfigStore,
  type Published,
  type Stoppable,
  type VersionBundles,
} from './config-store.js';

export interface NatsConfigStoreOptions {
  /** JetStream replicas of the buckets (1 locally, 3 on a NATS cluster). */
  readonly replicas?: number;
}

export class NatsConfigStore implements ConfigStore {
  private constructor(
    private readonly assignments: KV,
    private readonly published: KV,
    private readonly objects: ObjectStore,
  ) {}

  /** Open (creating when missing) the buckets. */
  static async open(
    nc: NatsConnection,
    opts: NatsConfigStoreOptions = {},
  ): Promise<NatsConfigStore> {
    const replicas = opts.replicas ?? 1;
    const kvm = new Kvm(nc);
    const [assignments, published, objects] = await Promise.all([
      kvm.create(Buckets.xdsAssignments, { replicas, history: 10 }),
      kvm.create(Buckets.xdsPublished, { replicas, history: 1 }),
      new Objm(nc).create(Buckets.xdsConfig, { replicas }),
    ]);
    return new NatsConfigStore(assignments, published, objects);
  }

  async publishVersion(
    cluster: string,
    version: string,
    bundles: readonly NodeConfigBundle[],
  ): Promise<void> {
    assertSubjectToken('cluster', cluster);
    const data = encodeVersion(cluster, version, bundles);
    const name = objectName(cluster, version);
    const digest = sha256(data);
    const existing = await this.objects.info(name);
    if (existing && !existing.deleted) {
      if (existing.description !== digest) {
        throw new ConfigVersionConflictError(cluster, version);
      }
    } else {
      // The description carries the content digest: a later publish under the same version
      // must carry the same bytes.
      await this.objects.putBlob({ name, description: digest }, data);
    }
    const p: Published = { cluster, version, publishedAt: new Date().toISOString() };
    await this.published.put(cluster, JSON.stringify(p));
  }

  async assign(cluster: string, version: string, by: string): Promise<Assignment> {
    assertSubjectToken('cluster', cluster);
    const info = await this.objects.info(objectName(cluster, version));
    if (!info || info.deleted) throw new ConfigVersionNotFoundError(cluster, version);
    const a: Assignment = { cluster, version, assignedAt: new Date().toISOString(), by };
    await this.assignments.put(cluster, JSON.stringify(a));
    return a;
  }

  async unassign(cluster: string): Promise<void> {
    assertSubjectToken('cluster', cluster);
    // A delete of a cluster never assigned only leaves a marker the cache ignores.
    await this.assignments.delete(cluster);
  }

  async getAssignment(cluster: string): Promise<Assignment | undefined> {
    const e = await this.assignments.get(cluster);
    return e && e.operation === 'PUT' ? (e.json<Assignment>() ?? undefined) : undefined;
  }

  async loadVersion(cluster: string, version: string): Promise<VersionBundles> {
    const data = await this.objects.getBlob(objectName(cluster, version));
    if (!data) throw new ConfigVersionNotFoundError(cluster, version);
    return decodeVersion(data);
  }

  watchAssignments(
    onAssignment: (a: Assignment) => void,
    onUnassigned?: (cluster: string) => void,
  ): Promise<Stoppable> {
    return watch(this.assignments, onAssignment, onUnassigned);
  }

  watchPublished(onPublished: (p: Published) => void): Promise<Stoppable> {
    return watch(this.published, onPublished);
  }
}

async function watch<T>(
  kv: KV,
  cb: (v: T) => void,
  onDelete?: (key: string) => void,
): Promise<Stoppable> {
  const iter = await kv.watch({ key: '>' });
  void (async () => {
    for await (const e of iter) {
      // A delete replayed at start names a key nobody has yet: harmless to the callback.
      if (e.operation === 'PUT') cb(e.json<T>());
      else onDelete?.(e.key);
    }
  })();
  return { stop: () => iter.stop() };
}

function objectName(cluster: string, version: string): string {
  return `${cluster}/${version}`;
}

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** Publish every node bundle of a new config version of a cluster (compiler → xDS). */
export async function publishConfigVersion(
  store: ConfigStore,
  cluster: string,
  version: string,
  bundles: readonly NodeConfigBundle[],
): Promise<void> {
  await store.publishVersion(cluster, version, bundles);
}

/** Serve `version` to every node of `cluster` (rollout → xDS). */
export function assignVersion(
  store: ConfigStore,
  cluster: string,
  version: string,
  by = 'operator',
): Promise<Assignment> {
  return store.assign(cluster, version, by);
}
