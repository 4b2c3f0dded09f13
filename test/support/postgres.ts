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
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
