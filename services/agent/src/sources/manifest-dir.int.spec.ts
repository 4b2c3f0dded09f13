import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { silentLogger, waitFor } from '@shoal/common';
import { startNatsServer, type TestNatsServer } from '@shoal/testkit';
import { loadAgentConfig } from '../config.js';
import { createAgent } from '../create.js';
import { ensureEventsStream, readEventsStream, tempDir } from '../testing/helpers.js';
import type { ManifestProblem } from './manifest-validator.js';

const service = (name: string, port: string | number) =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: shop\nspec:\n  ports:\n    - port: ${port}\n`;

describe('agent with a manifest folder (real NATS)', () => {
  let nats: TestNatsServer;
  let nc: NatsConnection;
  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await ensureEventsStream(nc);
  });
  after(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  it('one broken file: every other file is published, nothing from the broken one, the error names file, line and field', async () => {
    const dir = tempDir('shoal-manifests-');
    const problems: ManifestProblem[] = [];
    writeFileSync(join(dir.path, 'a.yaml'), `${service('a1', 80)}---\n${service('a2', 81)}`);
    writeFileSync(join(dir.path, 'b.yml'), service('b1', 82));
    // Document 2 of broken.yaml has a string port on line 16; document 1 is fine but must not go out.
    writeFileSync(
      join(dir.path, 'broken.yaml'),
      `${service('ok-but-same-file', 83)}---\n${service('bad', 'eighty')}`,
    );
    const agent = createAgent(
      loadAgentConfig({
        argv: [
          '--cluster',
          'edge-1',
          '--source',
          'manifest-dir',
          '--manifest-dir',
          dir.path,
          '--nats-url',
          nats.url,
          '--buffer-dir',
          join(dir.path, '.buffer'),
          '--heartbeat-interval',
          '1h',
          '--rescan-interval',
          '1h',
        ],
        env: {},
      }),
      { logger: silentLogger(), onManifestProblems: (_f, ps) => problems.push(...ps) },
    );
    try {
      await agent.start();
      await waitFor('good files published', async () => (await readEventsStream(nc)).length === 4);
      const names = (await readEventsStream(nc))
        .filter((e) => e.envelope.type === 'ResourceUpserted')
        .map((e) => e.envelope.data.name);
      assert.deepEqual(names.sort(), ['a1', 'a2', 'b1']);
      assert.equal(problems.length, 1);
      assert.deepEqual(
        { file: problems[0]!.file, line: problems[0]!.line, field: problems[0]!.field },
        { file: 'broken.yaml', line: 17, field: 'spec.ports[0].port' },
      );

      // Fixing the file publishes its resources; deleting a file publishes deletions.
      writeFileSync(
        join(dir.path, 'broken.yaml'),
        `${service('ok-but-same-file', 83)}---\n${service('bad', 84)}`,
      );
      await waitFor('fixed file published', async () => (await readEventsStream(nc)).length === 6, {
        timeoutMs: 10_000,
      });
      const { rmSync } = await import('node:fs');
      rmSync(join(dir.path, 'b.yml'));
      await waitFor('deletion published', async () => (await readEventsStream(nc)).length === 7, {
        timeoutMs: 10_000,
      });
      const last = (await readEventsStream(nc)).at(-1)!;
      assert.equal(last.envelope.type, 'ResourceDeleted');
      assert.equal(last.envelope.data.name, 'b1');
    } finally {
      await agent.close();
      dir.remove();
    }
  });
});
