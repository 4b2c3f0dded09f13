import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { silentLogger, waitFor } from '@shoal/common';
import type { EventStore } from '@shoal/db';
import { newEventId } from '@shoal/db';
import { testStore, type TestStore } from '@shoal/db/testing';
import { mintToken } from './auth.js';
import { EventTokenRegistry, tokenIssuedEvent, tokenStream } from './token-registry.js';

// The token projection on a real PostgreSQL event store.
describe('API token registry (event-sourced, real PostgreSQL)', () => {
  let t: TestStore;
  let pool: pg.Pool;
  let store: EventStore;
  let registry: EventTokenRegistry;

  before(async () => {
    t = await testStore('shoal_tokens');
    ({ pool, store } = t);
    // A safety poll far longer than the test: only the commit notification can wake it.
    registry = new EventTokenRegistry(pool, silentLogger(), 600_000);
    await registry.start();
  });
  after(async () => {
    await registry?.stop();
    await t?.close();
  });

  it('sees a token issued and then revoked by another writer as soon as each is committed', async () => {
    const { record } = mintToken('ci', 'viewer', 'token:admin', new Date());
    const issued = tokenIssuedEvent(record, 'token:admin', 'for CI');
    await store.append(issued.stream, [issued]);
    await waitFor('token visible', async () => registry.get(record.id) !== undefined, {
      timeoutMs: 3_000,
      intervalMs: 20,
    });
    assert.equal(registry.get(record.id)!.role, 'viewer');
    await store.append(tokenStream(record.id), [
      {
        id: newEventId(),
        type: 'ApiTokenRevoked',
        data: { id: record.id },
        metadata: { actor: 'token:admin', source: 'api', cluster: 'global', observedAt: '' },
        schemaVersion: 1,
      },
    ]);
    await waitFor(
      'revocation in force',
      async () => registry.get(record.id)?.revokedAt !== undefined,
      {
        timeoutMs: 3_000,
        intervalMs: 20,
      },
    );
  });
});
