import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { MigrationError } from './errors.js';

export const MIGRATIONS_FOLDER = join(import.meta.dirname, '..', 'migrations');

/** Advisory lock key that serializes migrations when several Shoal processes start at once. */
const MIGRATION_LOCK = 0x5e0a1_0001;

/**
 * Bring the database schema up to date with the frozen migrations in db/migrations. Safe to call
 * from every process at start-up: a session advisory lock lets one run while the others wait,
 * and applied migrations are skipped.
 */
export async function migrateDatabase(target: string | pg.Pool): Promise<void> {
  const pool =
    typeof target === 'string' ? new pg.Pool({ connectionString: target, max: 1 }) : target;
  try {
    const client = await pool.connect();
    try {
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
      } finally {
        await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  } catch (err) {
    throw new MigrationError(MIGRATIONS_FOLDER, err);
  } finally {
    if (typeof target === 'string') await pool.end();
  }
}
