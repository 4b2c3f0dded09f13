/**
 * For integration tests (`@shoal/db/testing`, not part of the package's main entry): a migrated
 * throwaway store on the local PostgreSQL.
 */
import pg from 'pg';
import { tempDatabase } from '@shoal/testkit';
import { EventStore } from './event-store.js';
import { migrateDatabase } from './migrate.js';

export interface TestStore {
  /** Connection string of the store's own database. */
  readonly url: string;
  readonly pool: pg.Pool;
  readonly store: EventStore;
  /** End the pool and drop the database. */
  close(): Promise<void>;
}

/** A database of its own (named after `name`), migrated, with a pool and an EventStore on it. */
export async function testStore(
  name: string,
  opts: { maxConnections?: number } = {},
): Promise<TestStore> {
  const db = await tempDatabase(name);
  await migrateDatabase(db.url);
  const pool = new pg.Pool({ connectionString: db.url, max: opts.maxConnections ?? 4 });
  return {
    url: db.url,
    pool,
    store: new EventStore(pool),
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}
