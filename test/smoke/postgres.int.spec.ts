import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { tempDatabase, type TempDatabase } from '@shoal/testkit';
import { notes } from './fixtures/schema.js';

// Proves the stack's PostgreSQL works with drizzle: a generated migration applied by the
// migrator (and re-applied as a no-op), then typed inserts and queries.
describe('PostgreSQL + drizzle smoke (real server)', () => {
  let db: TempDatabase;
  let pool: pg.Pool;

  before(async () => {
    db = await tempDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });

  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('applies the migration once and runs typed queries', async () => {
    const orm = drizzle(pool);
    const folder = join(import.meta.dirname, 'fixtures', 'migrations');
    await migrate(orm, { migrationsFolder: folder });
    await migrate(orm, { migrationsFolder: folder }); // second run: nothing to do
    const applied = await pool.query('select count(*)::int as n from drizzle.__drizzle_migrations');
    assert.equal(applied.rows[0].n, 1);

    await orm.insert(notes).values([
      { author: 'alice', body: { kind: 'Service', name: 'web' } },
      { author: 'bob', body: { kind: 'HTTPRoute', name: 'web' } },
      { author: 'alice', body: { kind: 'Gateway', name: 'edge' } },
    ]);
    const alice = await orm.select().from(notes).where(eq(notes.author, 'alice')).orderBy(notes.id);
    assert.deepEqual(
      alice.map((n) => (n.body as { kind: string }).kind),
      ['Service', 'Gateway'],
    );
    assert.ok(alice[0]!.createdAt instanceof Date);
    const [{ n }] = (
      await orm.execute<{ n: number }>(sql`select count(*)::int as n from smoke_notes`)
    ).rows as [{ n: number }];
    assert.equal(n, 3);
  });
});
