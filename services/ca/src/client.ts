import * as grpc from '@grpc/grpc-js';
import { ShoalError } from '@shoal/common';
import { caService, caSpiffeId, type CertificateResponseWire } from './grpc.js';
import { spiffeIdOf } from './pki.js';

export interface CertificateBundle {
  readonly spiffeId: string;
  readonly certChainPem: string;
  readonly trustBundlePem: string;
  readonly notAfter: Date;
}

export class CaRequestError extends ShoalError {
  constructor(method: string, address: string, cause: grpc.ServiceError) {
    super('CA_REQUEST_FAILED', `CA ${address} ${method}: ${cause.details || cause.message}`, {
      cause,
      details: { method, address, grpcCode: cause.code },
    });
  }
}

/**
 * The node's side of the CA protocol. A channel per call: calls are rare (join, then a renewal
 * per certificate lifetime) and the client certificate changes with every node-cert renewal.
 */
export class CaClient {
  constructor(
    private readonly opts: {
      readonly address: string;
      readonly trustDomain: string;
      /** The root to verify the CA against (distributed with the join token). */
      readonly trustBundlePem: string;
      readonly timeoutMs?: number;
    },
  ) {}

  join(token: string, csrPem: string): Promise<CertificateBundle> {
    return this.call('joinNode', { token, csrPem });
  }

  renewNode(auth: ClientAuth, csrPem: string): Promise<CertificateBundle> {
    return this.call('renewNode', { csrPem }, auth);
  }

  signWorkload(
    auth: ClientAuth,
    namespace: string,
    serviceAccount: string,
    csrPem: string,
  ): Promise<CertificateBundle> {
    return this.call('signWorkload', { namespace, serviceAccount, csrPem }, auth);
  }

  private call(method: string, req: object, auth?: ClientAuth): Promise<CertificateBundle> {
    const want = caSpiffeId(this.opts.trustDomain);
    const creds = grpc.credentials.createSsl(
      Buffer.from(this.opts.trustBundlePem),
      auth ? Buffer.from(auth.keyPem) : null,
      auth ? Buffer.from(auth.certChainPem) : null,
      {
        // SPIFFE certificates name no host: check the URI SAN instead (chain is verified by TLS).
        checkServerIdentity: (_host, cert) => {
          const got = cert.raw ? spiffeIdOf(new Uint8Array(cert.raw)) : undefined;
          return got === want
            ? undefined
            : new Error(`CA presented ${got ?? 'no SPIFFE id'}, expected ${want}`);
        },
      },
    );
    const Ctor = caService();
    // A name, not the IP, goes into SNI (RFC 6066); the CA is verified by its SPIFFE id anyway.
    const client = new Ctor(this.opts.address, creds, {
      'grpc.ssl_target_name_override': 'ca.shoal.internal',
    });
    const fn = (
      client as unknown as Record<
        string,
        grpc.requestCallback<CertificateResponseWire> & ((...a: unknown[]) => void)
      >
    )[method]!;
    return new Promise<CertificateBundle>((resolve, reject) => {
      fn.call(
        client,
        req,
        { deadline: Date.now() + (this.opts.timeoutMs ?? 10_000) },
        (err: grpc.ServiceError | null, res?: CertificateResponseWire) => {
          client.close();
          if (err || !res) return reject(new CaRequestError(method, this.opts.address, err!));
          resolve({
            spiffeId: res.spiffeId,
            certChainPem: res.certChainPem.join(''),
            trustBundlePem: res.trustBundlePem,
            notAfter: new Date(Number(res.notAfterUnixMs)),
          });
        },
      );
    });
  }
}

export interface ClientAuth {
  readonly certChainPem: string;
  readonly keyPem: string;
}
