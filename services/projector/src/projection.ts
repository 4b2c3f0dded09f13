import type pg from 'pg';
import { START, type Checkpoint, type EventStore, type RecordedEvent } from '@shoal/db';
import { foldInto, resourceKey, type DesiredState, type ResourceRecord } from './evolve.js';
import { PROJECTION } from './state-at.js';

const CONSUMER = 'projector:resources';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * The resources projection: the desired state in memory (the fold's working set) mirrored to
 * the `resources` table, a checkpoint, and periodic snapshots for stateAt. Every batch writes
 * its changed rows, the checkpoint and any snapshot in one transaction, so a crash replays
 * exactly the batches that were not committed.
 */
export class ResourceProjection {
  state: DesiredState = new Map();
  checkpoint: Checkpoint = START;
  private sinceSnapshot = 0;

  constructor(
    private readonly store: EventStore,
    private readonly opts: { snapshotEvery: number; pageSize?: number },
  ) {}

  /** Load the committed projection (state and checkpoint) from the database. */
  async load(): Promise<void> {
    const db = this.store.pool;
    const cp = await db.query<{ transaction_id: string; position: string }>(
      'select transaction_id::text as transaction_id, position from consumer_checkpoints where consumer = $1',
      [CONSUMER],
    );
    const row = cp.rows[0];
    this.checkpoint = row
      ? { transactionId: row.transaction_id, position: Number(row.position) }
      : START;
    const rows = await db.query<{
      cluster: string;
      kind: string;
      namespace: string;
      name: string;
      spec: ResourceRecord['spec'];
      resource_version: string | null;
      position: string;
      updated_at: Date;
    }>('select * from resources');
    this.state = new Map(
      rows.rows.map((r) => {
        const rec: ResourceRecord = {
          cluster: r.cluster,
          kind: r.kind,
          namespace: r.namespace,
          name: r.name,
          spec: r.spec,
          ...(r.resource_version === null ? {} : { resourceVersion: r.resource_version }),
          position: Number(r.position),
          updatedAt: r.updated_at.toISOString(),
        };
        return [resourceKey(rec), rec];
      }),
    );
  }

  /** Fold one batch read from the log and commit it with its checkpoint. */
  async apply(events: readonly RecordedEvent[], checkpoint: Checkpoint): Promise<void> {
    const changed = foldInto(this.state, events);
    const c = await this.store.pool.connect();
    try {
      await c.query('begin');
      await writeChanged(c, this.state, changed);
      this.sinceSnapshot += events.length;
      if (this.sinceSnapshot >= this.opts.snapshotEvery) {
        await insertSnapshot(c, checkpoint, this.sinceSnapshot, snapshotJson(this.state));
        this.sinceSnapshot = 0;
      }
      await saveCheckpoint(c, checkpoint);
      await c.query('commit');
      this.checkpoint = checkpoint;
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      // The in-memory fold ran ahead of the database: reload the committed state.
      await this.load();
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * Rebuild from position 0: fold the whole log in memory (reading outside any transaction, so
   * no other reader is held back), then replace the table, snapshots and checkpoint in one
   * short transaction. Readers see the old projection until the new one commits.
   */
  async rebuild(): Promise<{ events: number; resources: number }> {
    const pageSize = this.opts.pageSize ?? 10_000;
    const state: DesiredState = new Map();
    const snapshots: { cp: Checkpoint; count: number; json: string }[] = [];
    let cp = START;
    let since = 0;
    let total = 0;
    for (;;) {
      const page = await this.store.readAllPayload(cp, pageSize);
      if (page.events.length === 0) break;
      foldInto(state, page.events);
      cp = page.checkpoint;
      since += page.events.length;
      total += page.events.length;
      if (since >= this.opts.snapshotEvery) {
        snapshots.push({ cp, count: since, json: snapshotJson(state) });
        since = 0;
      }
    }
    const c = await this.store.pool.connect();
    try {
      await c.query('begin');
      await c.query('delete from resources');
      await c.query('delete from projection_snapshots where projection = $1', [PROJECTION]);
      for (const s of snapshots) await insertSnapshot(c, s.cp, s.count, s.json);
      await writeChanged(c, state, new Set(state.keys()));
      await saveCheckpoint(c, cp);
      await c.query('commit');
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
    this.state = state;
    this.checkpoint = cp;
    this.sinceSnapshot = since;
    return { events: total, resources: state.size };
  }
}

function snapshotJson(state: DesiredState): string {
  return JSON.stringify([...state.values()]);
}

async function insertSnapshot(c: Queryable, cp: Checkpoint, count: number, json: string) {
  await c.query(
    `insert into projection_snapshots (projection, transaction_id, position, event_count, state)
     values ($1, $2::xid8, $3, $4, $5::jsonb) on conflict do nothing`,
    [PROJECTION, cp.transactionId, cp.position, count, json],
  );
}

async function saveCheckpoint(c: Queryable, cp: Checkpoint) {
  await c.query(
    `insert into consumer_checkpoints (consumer, transaction_id, position) values ($1, $2::xid8, $3)
     on conflict (consumer) do update set transaction_id = excluded.transaction_id,
       position = excluded.position, updated_at = now()`,
    [CONSUMER, cp.transactionId, cp.position],
  );
}

/** Upsert the changed keys still present, delete the ones gone; multi-row, in chunks. */
async function writeChanged(c: Queryable, state: DesiredState, changed: Set<string>) {
  const upserts: ResourceRecord[] = [];
  const gone: string[][] = [];
  for (const key of changed) {
    const r = state.get(key);
    if (r) upserts.push(r);
    else gone.push(key.split('/'));
  }
  for (let i = 0; i < upserts.length; i += 5_000) {
    const chunk = upserts.slice(i, i + 5_000);
    await c.query(
      `insert into resources (cluster, kind, namespace, name, spec, resource_version, position, updated_at)
       select c, k, ns, n, s::jsonb, rv, p, u
       from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[])
         as t(c, k, ns, n, s, rv, p, u)
       on conflict (cluster, kind, namespace, name) do update set spec = excluded.spec,
         resource_version = excluded.resource_version, position = excluded.position, updated_at = excluded.updated_at`,
      [
        chunk.map((r) => r.cluster),
        chunk.map((r) => r.kind),
        chunk.map((r) => r.namespace),
        chunk.map((r) => r.name),
        chunk.map((r) => JSON.stringify(r.spec)),
        chunk.map((r) => r.resourceVersion ?? null),
        chunk.map((r) => r.position),
        chunk.map((r) => r.updatedAt),
      ],
    );
  }
  if (gone.length > 0) {
    // Cluster, kind and namespace never contain "/"; a name might, so it takes the rest.
    await c.query(
      `delete from resources r using unnest($1::text[], $2::text[], $3::text[], $4::text[]) as d(c, k, ns, n)
       where r.cluster = d.c and r.kind = d.k and r.namespace = d.ns and r.name = d.n`,
      [
        gone.map((g) => g[0]),
        gone.map((g) => g[1]),
        gone.map((g) => g[2]),
        gone.map((g) => g.slice(3).join('/')),
      ],
    );
  }
}
