import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { requireEnv } from './env.js';

export interface TempDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the test PostgreSQL server, dropped by `drop()`. */
export async function tempDatabase(prefix = 'shoal_t'): Promise<TempDatabase> {
  const base = new URL(requireEnv('DATABASE_URL'));
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      try {
        // pg's Pool.end() starts closing its connections without waiting for them. FORCE would
        // kill those mid-goodbye, and the kill reaches their owner as an uncaught 'error'
        // ("terminating connection due to administrator command"). So wait (up to 2 s) for
        // the connections to go; FORCE then only ends the ones a test leaked.
        for (let i = 0; i < 40; i++) {
          const { rows } = await c.query<{ n: number }>(
            'select count(*)::int as n from pg_stat_activity where datname = $1',
            [name],
          );
          if (rows[0]!.n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
