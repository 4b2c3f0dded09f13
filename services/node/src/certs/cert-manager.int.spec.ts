/**
 * The node's cert manager against the real CA over gRPC mutual TLS. The CA client is wrapped
 * to lose replies (the CA did the work, the node never heard back: a timeout under load), the
 * way a real network does; everything else is the real thing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CaClient,
  CaServer,
  CertificateAuthority,
  InMemoryJoinTokens,
  InMemoryWorkloadRegistry,
} from '@shoal/ca';
import { Spiffe, silentLogger, waitFor } from '@shoal/common';
import { Supervisor } from '../actors/index.js';
import type { CertSet } from '../hbone/identity.js';
import { certManagerActor, type CertMsg } from './actor.js';

const TD = 'certs-test.local';

describe('cert manager (real CA over gRPC mTLS)', () => {
  let dir: string;
  let server: CaServer;
  let client: CaClient;
  const tokens = new InMemoryJoinTokens();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-certs-'));
    const ca = await CertificateAuthority.loadOrCreate(dir, TD);
    server = new CaServer({
      ca,
      registry: new InMemoryWorkloadRegistry(),
      joinTokens: tokens,
      host: '127.0.0.1',
      port: 0,
      nodeCertTtlMs: 4000,
      workloadCertTtlMs: 4000,
      logger: silentLogger(),
    });
    await server.start();
    client = new CaClient({ address: server.address, trustDomain: TD, trustBundlePem: ca.rootPem });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Run a cert manager whose CA calls go through `ca`; resolves with each published set. */
  const run = (node: string, ca: Pick<CaClient, 'join' | 'renewNode' | 'signWorkload'>) => {
    const sets: CertSet[] = [];
    const sup = new Supervisor({ name: 'test', logger: silentLogger() });
    sup.spawn<CertMsg>(
      'cert-manager',
      certManagerActor({
        ca,
        trustDomain: TD,
        cluster: 'c1',
        node,
        joinToken: `tok-${node}`,
        retryMs: 50,
        onCerts: (c) => sets.push(c),
      }),
      { initialBackoffMs: 20, maxBackoffMs: 100, maxRestarts: 50, windowMs: 60_000 },
    );
    return { sets, sup };
  };

  it('joins although the reply to its first join was lost (the CA had used the token)', async () => {
    tokens.add('tok-n1', { cluster: 'c1', node: 'n1' });
    let joins = 0;
    const lossy = {
      join: async (token: string, csr: string) => {
        const issued = await client.join(token, csr);
        if (++joins === 1) throw new Error('deadline exceeded (reply lost)');
        return issued;
      },
      renewNode: client.renewNode.bind(client),
      signWorkload: client.signWorkload.bind(client),
    };
    const { sets, sup } = run('n1', lossy);
    try {
      await waitFor('node certificate', async () => sets.length > 0, { timeoutMs: 10_000 });
      assert.ok(joins >= 2, 'joined again after the lost reply');
      assert.ok(sets[0]!.byIdentity.has(Spiffe.node(TD, 'c1', 'n1')));
    } finally {
      await sup.stopAll();
    }
  });

  it('joins again when its node certificate expired while the CA was unreachable', async () => {
    tokens.add('tok-n2', { cluster: 'c1', node: 'n2' });
    let down = false;
    const calls: string[] = [];
    const flaky = {
      join: (token: string, csr: string) => {
        calls.push('join');
        return down ? Promise.reject(new Error('CA unreachable')) : client.join(token, csr);
      },
      renewNode: (auth: Parameters<CaClient['renewNode']>[0], csr: string) => {
        calls.push('renew');
        return down ? Promise.reject(new Error('CA unreachable')) : client.renewNode(auth, csr);
      },
      signWorkload: client.signWorkload.bind(client),
    };
    const { sets, sup } = run('n2', flaky);
    try {
      await waitFor('node certificate', async () => sets.length > 0, { timeoutMs: 10_000 });
      down = true;
      const first = sets.at(-1)!.byIdentity.get(Spiffe.node(TD, 'c1', 'n2'))!;
      await new Promise((r) => setTimeout(r, first.notAfter.getTime() - Date.now() + 200));
      calls.length = 0;
      down = false;
      await waitFor(
        'a fresh node certificate',
        async () =>
          (sets
            .at(-1)!
            .byIdentity.get(Spiffe.node(TD, 'c1', 'n2'))
            ?.notAfter.getTime() ?? 0) > Date.now(),
        { timeoutMs: 10_000 },
      );
      assert.equal(calls.at(-1), 'join', `an expired certificate cannot renew: ${calls.join(',')}`);
    } finally {
      await sup.stopAll();
    }
  });
});
