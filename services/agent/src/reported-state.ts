import pg from 'pg';
import { contentHash, resourceKey, type Ledger } from './core/resource.js';
import type { JsonObject } from './core/envelope.js';

/** One resource as the store last recorded it for a cluster. */
export interface ReportedResource {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly hash: string;
  readonly resourceVersion?: string;
}

/**
 * "What the store says this cluster last reported". The agent's own ledger (in its buffer
 * folder) is the primary answer, because it is available offline and includes events not yet
 * flushed; this source seeds the ledger when the buffer folder is new (a reinstalled edge box,
 * a pod without its volume), so deletions that happened meanwhile are still published.
 */
export interface ReportedStateSource {
  load(cluster: string): Promise<ReportedResource[]>;
}

export function ledgerFrom(resources: readonly ReportedResource[]): Ledger {
  return new Map(
    resources.map((r) => [
      resourceKey(r),
      r.resourceVersion === undefined
        ? { hash: r.hash }
        : { hash: r.hash, resourceVersion: r.resourceVersion },
    ]),
  );
}

/**
 * Reads the `resources` projection that the projector maintains from the event store
 * (db/src/schema.ts). The hash is recomputed from the stored spec with the same function the
 * agent uses when it publishes.
 */
export class PgReportedState implements ReportedStateSource {
  constructor(private readonly databaseUrl: string) {}

  async load(cluster: string): Promise<ReportedResource[]> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{
        kind: string;
        namespace: string;
        name: string;
        spec: JsonObject;
        resource_version: string | null;
      }>('select kind, namespace, name, spec, resource_version from resources where cluster = $1', [
        cluster,
      ]);
      return rows.map((r) => ({
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        hash: contentHash({ kind: r.kind, namespace: r.namespace, name: r.name, spec: r.spec }),
        ...(r.resource_version ? { resourceVersion: r.resource_version } : {}),
      }));
    } finally {
      await client.end();
    }
  }
}
