import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { silentLogger } from '@shoal/common';
import { temporalExecutable } from '@shoal/deploy';
import { requireEnv } from '@shoal/testkit';
import { createActivities } from './temporal/activities.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const workflowsPath = join(import.meta.dirname, 'temporal', 'workflows.ts');

async function runSmoke(connection: NativeConnection, client: Client, namespace: string) {
  const taskQueue = `smoke-${randomBytes(4).toString('hex')}`;
  const calls = { count: 0 } as { count: number; pid?: number };
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath,
    activities: createActivities(calls),
  });
  const result = await worker.runUntil(
    client.workflow.execute('smokeWorkflow', {
      taskQueue,
      workflowId: `smoke-${taskQueue}`,
      args: ['HTTPRoute', 'checkout'],
    }),
  );
  assert.equal(result, 'workflow saw: HTTPRoute/checkout');
  assert.equal(calls.count, 1, 'the activity ran exactly once, in this worker');
  assert.equal(calls.pid, process.pid);
  const desc = await client.workflow.getHandle(`smoke-${taskQueue}`).describe();
  assert.equal(desc.status.name, 'COMPLETED');
}

describe('Temporal smoke (real dev server)', () => {
  it('runs a workflow with one activity on a real worker against the stack', async () => {
    const address = requireEnv('TEMPORAL_ADDRESS');
    const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
    const connection = await NativeConnection.connect({ address });
    const clientConn = await Connection.connect({ address });
    try {
      await runSmoke(connection, new Client({ connection: clientConn, namespace }), namespace);
    } finally {
      await clientConn.close();
      await connection.close();
    }
  });

  it("starts through @temporalio/testing with Shoal's dev server as an existing executable", async () => {
    const exe = temporalExecutable(silentLogger());
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: exe.path } },
    });
    try {
      await runSmoke(env.nativeConnection, env.client, env.namespace ?? 'default');
    } finally {
      await env.teardown();
    }
  });
});
