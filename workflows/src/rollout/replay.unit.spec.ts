import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { TESTDATA } from './replay-support.js';
import { bundleRolloutWorkflows } from './worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

describe('rollout workflow replay (recorded histories against the current code)', () => {
  it('replays every recorded history without a determinism error', async () => {
    const files = readdirSync(TESTDATA)
      .filter((f) => f.endsWith('.history.json'))
      .sort();
    assert.ok(
      files.length >= 4,
      `expected recorded histories in ${TESTDATA}, found ${files.length}`,
    );
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.history\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(join(TESTDATA, f), 'utf8'))),
    }));
    const workflowBundle = await bundleRolloutWorkflows();
    const failures: string[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowBundle, replayName: 'rollout' },
      histories,
    )) {
      if (r.error) failures.push(`${r.workflowId}: ${r.error.message}`);
    }
    assert.deepEqual(failures, []);
  });
});
