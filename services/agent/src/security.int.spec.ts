import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Subjects, silentLogger, waitFor } from '@shoal/common';
import { loadAgentConfig } from './config.js';
import { createAgent } from './create.js';
import {
  ensureEventsStream,
  readEventsStream,
  startAuthNatsServer,
  tempDir,
} from './testing/helpers.js';

const root = resolve(import.meta.dirname, '../../..');
const seed = (dir: string, name: string) =>
  nkeyAuthenticator(new TextEncoder().encode(readFileSync(join(dir, `${name}.nk`), 'utf8').trim()));

describe('per-cluster NATS users from deploy/nats/generate.ts (real nats-server)', () => {
  const dir = tempDir('shoal-nats-auth-');
  let nats: { url: string; stop(): Promise<void> };
  let admin: NatsConnection;
  before(async () => {
    const res = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'deploy/nats/generate.ts'),
        '--clusters',
        'east,west',
        '--out',
        dir.path,
      ],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(res.status, 0, res.stderr);
    nats = await startAuthNatsServer(join(dir.path, 'auth.conf'));
    admin = await connect({ servers: nats.url, authenticator: seed(dir.path, 'shoal-services') });
    await ensureEventsStream(admin);
  });
  after(async () => {
    await admin?.close();
    await nats?.stop();
    dir.remove();
  });

  it('refuses an unauthenticated connection', async () => {
    await assert.rejects(connect({ servers: nats.url, reconnect: false }), /authorization|auth/i);
  });

  it("cluster A's credentials cannot publish cluster B's events: refused by NATS, nothing stored", async () => {
    const east = await connect({
      servers: nats.url,
      authenticator: seed(dir.path, 'east'),
      inboxPrefix: Subjects.agentInbox('east'),
    });
    try {
      const js = jetstream(east, { timeout: 2000 });
      const ok = await js.publish(Subjects.event('east', 'Service'), '{}', { msgID: 'east-probe' });
      assert.ok(ok.seq > 0, 'east may publish its own events');
      await assert.rejects(
        js.publish(Subjects.event('west', 'Service'), '{}', { msgID: 'west-forged' }),
        /permission|timeout/i,
      );
    } finally {
      await east.close();
    }

    // An agent told it is "west" but holding east's nkey: every event stays in its buffer.
    const buf = tempDir('shoal-agent-forged-');
    const manifests = join(buf.path, 'm');
    mkdirSync(manifests);
    writeFileSync(
      join(manifests, 'ns.yaml'),
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n',
    );
    const agent = createAgent(
      loadAgentConfig({
        argv: [
          '--cluster',
          'west',
          '--source',
          'manifest-dir',
          '--manifest-dir',
          manifests,
          '--nats-url',
          nats.url,
          '--buffer-dir',
          join(buf.path, 'b'),
          '--nkey-seed-file',
          join(dir.path, 'east.nk'),
          '--heartbeat-interval',
          '1h',
        ],
        env: {},
      }),
      { logger: silentLogger(), ackTimeoutMs: 1000 },
    );
    try {
      await agent.start();
      await waitFor('a refused publish', async () => agent.stats().lastPublishError !== undefined, {
        timeoutMs: 15_000,
      });
      assert.equal(agent.stats().published, 0);
      assert.equal(agent.stats().pending, 2, 'registration and the namespace stay buffered');
    } finally {
      await agent.close();
      buf.remove();
    }
    const stored = await readEventsStream(admin);
    assert.deepEqual(
      stored.map((e) => e.subject),
      ['shoal.ev.east.Service'],
      'nothing stored for west',
    );
  });
});
