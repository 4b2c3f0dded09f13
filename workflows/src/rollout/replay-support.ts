/**
 * Workflow histories recorded from the integration tests, replayed by replay.unit.spec.ts so that
 * a change that breaks determinism fails CI. Re-record with SHOAL_RECORD_HISTORIES=1 (after an
 * intended, versioned change to the workflow code).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

export const TESTDATA = join(import.meta.dirname, 'testdata');

export async function recordHistory(
  client: Client,
  workflowId: string,
  name: string,
): Promise<void> {
  if (process.env.SHOAL_RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  mkdirSync(TESTDATA, { recursive: true });
  writeFileSync(join(TESTDATA, `${name}.history.json`), `${historyToJSON(history)}\n`);
}
