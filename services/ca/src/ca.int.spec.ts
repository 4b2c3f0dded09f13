import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Spiffe, silentLogger } from '@shoal/common';
import { CertificateAuthority } from './authority.js';
import { CaClient } from './client.js';
import { createCsr, generateKeyPair, spiffeIdOf } from './pki.js';
import { InMemoryJoinTokens, InMemoryWorkloadRegistry } from './registry.js';
import { CaServer } from './server.js';

const TD = 'ca-test.local';

describe('CA over gRPC mTLS', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let server: CaServer;
  let client: CaClient;
  const registry = new InMemoryWorkloadRegistry();
  const tokens = new InMemoryJoinTokens();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-ca-'));
    ca = await CertificateAuthority.loadOrCreate(dir, TD);
    server = new CaServer({
      ca,
      registry,
      joinTokens: tokens,
      host: '127.0.0.1',
      port: 0,
      nodeCertTtlMs: 60_000,
      workloadCertTtlMs: 30_000,
      logger: silentLogger(),
    });
    await server.start();
    client = new CaClient({ address: server.address, trustDomain: TD, trustBundlePem: ca.rootPem });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('persists its root in the folder and loads the same root again', async () => {
    assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
    const again = await CertificateAuthority.loadOrCreate(dir, TD);
    assert.equal(again.rootPem, ca.rootPem);
  });

  it('joins a node with a token bound to the first key that uses it, then lets it renew and get certs only for its workloads', async () => {
    tokens.add('tok-1', { cluster: 'c1', node: 'n1' });
    registry.set({ cluster: 'c1', node: 'n1' }, [
      { namespace: 'shop', serviceAccount: 'cart', ip: '127.0.20.1' },
    ]);
    const nodeKey = await generateKeyPair();
    const nodeCert = await client.join('tok-1', await createCsr(nodeKey.keys, 'ignored'));
    assert.equal(nodeCert.spiffeId, Spiffe.node(TD, 'c1', 'n1'));
    assert.equal(spiffeIdOf(nodeCert.certChainPem), Spiffe.node(TD, 'c1', 'n1'));
    assert.ok(nodeCert.notAfter.getTime() - Date.now() <= 60_000);

    // Used: another key is refused; the key that used it may retry (a join whose reply was lost).
    await assert.rejects(
      client.join('tok-1', await createCsr((await generateKeyPair()).keys, 'x')),
      /join token rejected/,
    );
    const retried = await client.join('tok-1', await createCsr(nodeKey.keys, 'x'));
    assert.equal(retried.spiffeId, Spiffe.node(TD, 'c1', 'n1'));
    await assert.rejects(
      client.join('tok-unknown', await createCsr(nodeKey.keys, 'x')),
      /join token rejected/,
    );

    const auth = { certChainPem: nodeCert.certChainPem, keyPem: nodeKey.keyPem };
    const renewed = await client.renewNode(auth, await createCsr(nodeKey.keys, 'x'));
    assert.equal(renewed.spiffeId, Spiffe.node(TD, 'c1', 'n1'));

    const wk = await generateKeyPair();
    const w = await client.signWorkload(
      auth,
      'shop',
      'cart',
      await createCsr(wk.keys, 'spiffe://evil/ns/x/sa/y'),
    );
    assert.equal(
      spiffeIdOf(w.certChainPem),
      Spiffe.workload(TD, 'shop', 'cart'),
      'CSR names are ignored',
    );
    assert.ok(w.notAfter.getTime() - Date.now() <= 30_000);

    await assert.rejects(
      client.signWorkload(auth, 'shop', 'payments', await createCsr(wk.keys, 'x')),
      /no workload of service account shop\/payments is scheduled on node c1\/n1/,
    );
  });

  it('refuses workload certs to callers without a node certificate from this root', async () => {
    const wk = await generateKeyPair();
    const csr = await createCsr(wk.keys, 'x');
    await assert.rejects(
      new CaClient({
        address: server.address,
        trustDomain: TD,
        trustBundlePem: ca.rootPem,
      }).signWorkload(undefined as never, 'shop', 'cart', csr),
      /only nodes of this trust domain/,
    );
    // A node certificate minted by another root (same trust domain name) is not accepted.
    const { ca: rogue } = await CertificateAuthority.create(TD);
    const rk = await generateKeyPair();
    const forged = await rogue.sign(
      await createCsr(rk.keys, 'x'),
      Spiffe.node(TD, 'c1', 'n1'),
      60_000,
    );
    await assert.rejects(
      client.signWorkload(
        { certChainPem: forged.certChainPem.join(''), keyPem: rk.keyPem },
        'shop',
        'cart',
        csr,
      ),
      /CA ..*signWorkload/,
    );
  });
});
