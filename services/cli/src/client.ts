import * as grpc from '@grpc/grpc-js';
import { shoalClientConstructor } from '@shoal/api';
import type { Connection } from './context.js';
import { fromGrpc } from './exit.js';

type Unary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: grpc.requestCallback<object>,
) => void;

/** The API as promises: `await api.call('Get', { kind: 'HTTPRoute' })`. */
export class ApiClient {
  private readonly client: grpc.Client & Record<string, Unary>;

  constructor(private readonly conn: Connection) {
    const expected = conn.serverId;
    const creds = grpc.credentials.createSsl(
      Buffer.from(conn.caPem),
      conn.keyPem ? Buffer.from(conn.keyPem) : null,
      conn.certPem ? Buffer.from(conn.certPem) : null,
      expected
        ? {
            // The chain is verified against the CA as usual; the name checked is the SPIFFE id.
            checkServerIdentity: (_host, cert) => {
              const uris = (cert.subjectaltname ?? '').split(',').map((s) => s.trim());
              return uris.includes(`URI:${expected}`)
                ? undefined
                : new Error(
                    `the API server presented ${cert.subjectaltname ?? 'no SAN'}, expected ${expected}`,
                  );
            },
          }
        : {},
    );
    const Ctor = shoalClientConstructor();
    // With a SPIFFE id to check, the TLS server name is irrelevant; an IP there is not allowed.
    const options = expected ? { 'grpc.ssl_target_name_override': 'shoal-api' } : {};
    this.client = new Ctor(conn.server, creds, options) as grpc.Client & Record<string, Unary>;
  }

  call<T = Record<string, unknown>>(
    method: string,
    req: object = {},
    timeoutMs = 30_000,
  ): Promise<T> {
    const md = new grpc.Metadata();
    if (this.conn.token) md.set('authorization', `Bearer ${this.conn.token}`);
    const name = method.charAt(0).toLowerCase() + method.slice(1);
    return new Promise((resolve, reject) =>
      this.client[name]!(req, md, { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(fromGrpc(err, this.conn.server)) : resolve(res as T),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}
