import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '@shoal/common';
import { createTestPki, type TestPki } from '@shoal/testkit';
import {
  ApiServer,
  InMemoryTokenRegistry,
  mintToken,
  shoalClientConstructor,
  type Principal,
} from './index.js';

type Client = grpc.Client &
  Record<string, (req: object, md: grpc.Metadata, cb: grpc.requestCallback<object>) => void>;

function call(
  client: Client,
  method: string,
  req: object,
  token?: string,
): Promise<Record<string, unknown>> {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    client[method]!(req, md, (err, res) =>
      err ? reject(err) : resolve(res as Record<string, unknown>),
    ),
  );
}

// Real TLS, real gRPC: authentication by token or client certificate, RBAC by method.
describe('API server: authentication and roles', () => {
  let pki: TestPki;
  let server: ApiServer;
  const tokens = new InMemoryTokenRegistry();
  const applied: Principal[] = [];
  const issued: Record<string, string> = {};

  before(async () => {
    pki = await createTestPki();
    const cert = await pki.server();
    for (const role of ['viewer', 'operator', 'auditor', 'admin'] as const) {
      const t = mintToken(`${role}-1`, role, 'test', new Date());
      tokens.put(t.record);
      issued[role] = t.token;
    }
    server = new ApiServer({
      host: '127.0.0.1',
      port: 0,
      tls: { certChain: cert.certPem, privateKey: cert.keyPem, clientCa: pki.caPem },
      tokens,
      certificateRoles: new Map([['spiffe://shoal.test/ns/ci/sa/deployer', 'operator']]),
      handlers: {
        WhoAmI: async (_req, p) => ({ actor: p.actor, role: p.role, authMethod: p.method }),
        Apply: async (_req, p) => {
          applied.push(p);
          return { changes: [], dryRun: false };
        },
        VerifyAudit: async () => ({ ok: true, checked: 3, firstBrokenPosition: 0, detail: '' }),
      },
      logger: silentLogger(),
    });
    await server.start();
  });

  after(() => server.close());

  const client = (creds?: grpc.ChannelCredentials): Client => {
    const Ctor = shoalClientConstructor();
    return new Ctor(
      `127.0.0.1:${server.port}`,
      creds ?? grpc.credentials.createSsl(Buffer.from(pki.caPem)),
    ) as Client;
  };

  it('refuses a call without credentials, saying how to authenticate', async () => {
    await assert.rejects(call(client(), 'WhoAmI', {}), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /no credentials: pass an API token \(SHOAL_TOKEN or --token\)/);
      return true;
    });
  });

  it('refuses unknown, malformed and revoked tokens', async () => {
    const forged = mintToken('x', 'admin', 'nobody', new Date()).token;
    await assert.rejects(call(client(), 'WhoAmI', {}, forged), /unknown API token/);
    await assert.rejects(call(client(), 'WhoAmI', {}, 'letmein'), /malformed API token/);
    const t = mintToken('temp', 'admin', 'test', new Date());
    tokens.put(t.record);
    assert.equal((await call(client(), 'WhoAmI', {}, t.token)).role, 'admin');
    tokens.revoke(t.record.id, '2026-01-01T00:00:00.000Z');
    await assert.rejects(call(client(), 'WhoAmI', {}, t.token), /was revoked/);
  });

  it('lets a viewer read but not apply, and the handler never runs', async () => {
    const who = await call(client(), 'WhoAmI', {}, issued.viewer);
    assert.deepEqual(who, { actor: 'token:viewer-1', role: 'viewer', authMethod: 'token' });
    await assert.rejects(call(client(), 'Apply', {}, issued.viewer), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(
        err.details,
        /token:viewer-1 \(role viewer\) may not call Apply: it needs the "write" permission \(roles with it: operator, admin\)/,
      );
      return true;
    });
    assert.equal(applied.length, 0);
    await call(client(), 'Apply', {}, issued.operator);
    assert.deepEqual(
      applied.map((p) => p.actor),
      ['token:operator-1'],
    );
  });

  it('lets an auditor verify the audit trail and refuses it to an operator', async () => {
    assert.equal((await call(client(), 'VerifyAudit', {}, issued.auditor)).ok, true);
    await assert.rejects(
      call(client(), 'VerifyAudit', {}, issued.operator),
      /needs the "audit" permission/,
    );
  });

  it('answers UNIMPLEMENTED for a known method without a handler', async () => {
    await assert.rejects(call(client(), 'Plan', {}, issued.viewer), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      return true;
    });
  });

  it('authenticates a listed client certificate, and only a listed one', async () => {
    const listed = await pki.client('spiffe://shoal.test/ns/ci/sa/deployer');
    const viaCert = client(
      grpc.credentials.createSsl(
        Buffer.from(pki.caPem),
        Buffer.from(listed.keyPem),
        Buffer.from(listed.certPem),
      ),
    );
    assert.deepEqual(await call(viaCert, 'WhoAmI', {}), {
      actor: 'spiffe://shoal.test/ns/ci/sa/deployer',
      role: 'operator',
      authMethod: 'mtls',
    });
    const node = await pki.client('spiffe://shoal.test/shoal/node/east/n1');
    const viaNodeCert = client(
      grpc.credentials.createSsl(
        Buffer.from(pki.caPem),
        Buffer.from(node.keyPem),
        Buffer.from(node.certPem),
      ),
    );
    await assert.rejects(call(viaNodeCert, 'WhoAmI', {}), /no credentials/);
    // A certificate from another CA is not accepted as an identity.
    const other = await (
      await createTestPki('other')
    ).client('spiffe://shoal.test/ns/ci/sa/deployer');
    const viaForeign = client(
      grpc.credentials.createSsl(
        Buffer.from(pki.caPem),
        Buffer.from(other.keyPem),
        Buffer.from(other.certPem),
      ),
    );
    await assert.rejects(call(viaForeign, 'WhoAmI', {}), /no credentials/);
  });

  it('refuses plaintext connections', async () => {
    await assert.rejects(
      call(client(grpc.credentials.createInsecure()), 'WhoAmI', {}, issued.admin),
      (err: grpc.ServiceError) =>
        err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.INTERNAL,
    );
  });
});
