/**
 * Test harness: xDS replicas on free ports sharing one NATS, with certificates from a test CA.
 */
import { silentLogger, type Logger } from '@shoal/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { XdsConfig } from '../config.js';
import { createXdsServer, type XdsServer } from '../server.js';
import type { TestCa } from './certs.js';

export const TEST_TRUST_DOMAIN = 'shoal.test';

export interface Replica {
  readonly server: XdsServer;
  readonly nc: NatsConnection;
  /** 127.0.0.1:<mTLS port> */
  readonly address: string;
  readonly plaintextAddress: string | undefined;
  close(): Promise<void>;
}

export async function startReplica(
  natsUrl: string,
  ca: TestCa,
  opts: { replica: string; plaintext?: boolean; autoAssignNewest?: boolean; logger?: Logger } = {
    replica: 'r1',
  },
): Promise<Replica> {
  const serverPem = await ca.issue([`spiffe://${TEST_TRUST_DOMAIN}/shoal/xds`]);
  const cfg: XdsConfig = {
    listen: '127.0.0.1:0',
    tlsCa: '',
    tlsCert: '',
    tlsKey: '',
    natsReplicas: 1,
    adminHost: '127.0.0.1',
    plaintextListen: opts.plaintext ? '127.0.0.1:0' : undefined,
    trustDomain: TEST_TRUST_DOMAIN,
    natsUrl,
    replica: opts.replica,
    adminPort: 0,
    autoAssignNewest: opts.autoAssignNewest ?? false,
  };
  const nc = await connect({ servers: natsUrl });
  const server = createXdsServer(cfg, {
    logger: opts.logger ?? silentLogger(),
    nc,
    tls: {
      ca: Buffer.from(ca.cert),
      cert: Buffer.from(serverPem.cert),
      key: Buffer.from(serverPem.key),
    },
  });
  await server.start();
  return {
    server,
    nc,
    address: `127.0.0.1:${server.ports.tls}`,
    plaintextAddress: server.ports.plaintext ? `127.0.0.1:${server.ports.plaintext}` : undefined,
    async close() {
      await server.close();
      await nc.close();
    },
  };
}
