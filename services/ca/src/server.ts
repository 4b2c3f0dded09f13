import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import { Spiffe, type Logger, type Runner } from '@shoal/common';
import { Counter, type Registry } from 'prom-client';
import type { CertificateAuthority, IssuedCertificate } from './authority.js';
import { CsrInvalidError, JoinTokenError, NotAuthorizedError } from './errors.js';
import {
  StaticCertificateProvider,
  caService,
  caSpiffeId,
  type CertificateResponseWire,
} from './grpc.js';
import { createCsr, generateKeyPair, x509 } from './pki.js';
import { authorizeWorkloadCert } from './policy.js';
import type { JoinTokenStore, WorkloadRegistry } from './registry.js';

/** SHA-256 of the CSR's public key (SPKI): who redeems a join token. '' if it does not parse. */
function csrKeyFingerprint(csrPem: string): string {
  try {
    const spki = new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData;
    return createHash('sha256').update(new Uint8Array(spki)).digest('hex');
  } catch {
    return ''; // signing rejects the CSR with the reason
  }
}

export interface CaServerOptions {
  readonly ca: CertificateAuthority;
  readonly registry: WorkloadRegistry;
  readonly joinTokens: JoinTokenStore;
  readonly host: string;
  /** 0 picks a free port; read `port` after start(). */
  readonly port: number;
  readonly nodeCertTtlMs: number;
  readonly workloadCertTtlMs: number;
  readonly logger: Logger;
  readonly metrics?: Registry;
}

type Unary<Req> = grpc.ServerUnaryCall<Req, CertificateResponseWire>;

/**
 * The CA's gRPC adapter. One TLS port: the server asks every client for a certificate but does
 * not require one (a joining node has none yet); handlers that need an authenticated node check
 * the presented certificate against the root themselves.
 */
export class CaServer implements Runner {
  readonly name = 'ca-server';
  private server: grpc.Server | undefined;
  private boundPort = 0;
  private readonly issued: Counter<'kind' | 'result'>;

  constructor(private readonly opts: CaServerOptions) {
    this.issued = new Counter({
      name: 'shoal_ca_certificates_total',
      help: 'Certificate requests by kind (join, renew, workload) and result',
      labelNames: ['kind', 'result'],
      registers: opts.metrics ? [opts.metrics] : [],
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `${this.opts.host}:${this.boundPort}`;
  }

  async start(): Promise<void> {
    const { ca } = this.opts;
    // The CA's own serving certificate is issued by its root like any other, with a CA id.
    const { keys, keyPem } = await generateKeyPair();
    const own = await ca.sign(
      await createCsr(keys, caSpiffeId(ca.trustDomain)),
      caSpiffeId(ca.trustDomain),
      365 * 24 * 3600_000,
    );
    const provider = new StaticCertificateProvider(ca.rootPem, own.certChainPem.join(''), keyPem);
    const creds = grpc.experimental.createCertificateProviderServerCredentials(
      provider,
      provider,
      false,
    );
    const server = new grpc.Server();
    server.addService(caService().service, {
      joinNode: this.handler('join', (call: Unary<{ token: string; csrPem: string }>) =>
        this.join(call.request),
      ),
      renewNode: this.handler('renew', async (call: Unary<{ csrPem: string }>) => {
        const caller = await this.callerId(call);
        const parsed = caller ? Spiffe.parse(caller) : undefined;
        if (!parsed || parsed.kind !== 'node') {
          throw new NotAuthorizedError(
            caller ?? 'an unauthenticated caller',
            'a node certificate',
            'present your current node certificate',
          );
        }
        return ca.sign(call.request.csrPem, caller!, this.opts.nodeCertTtlMs);
      }),
      signWorkload: this.handler(
        'workload',
        async (call: Unary<{ namespace: string; serviceAccount: string; csrPem: string }>) => {
          const { namespace, serviceAccount, csrPem } = call.request;
          const { spiffeId } = await authorizeWorkloadCert(
            this.opts.registry,
            ca.trustDomain,
            await this.callerId(call),
            namespace,
            serviceAccount,
          );
          return ca.sign(csrPem, spiffeId, this.opts.workloadCertTtlMs);
        },
      ),
    });
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.opts.host}:${this.opts.port}`, creds, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
    this.opts.logger.info({ address: this.address }, 'CA listening');
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.forceShutdown();
        resolve();
      }, 2000);
      s.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async join(req: { token: string; csrPem: string }): Promise<IssuedCertificate> {
    const node = await this.opts.joinTokens.redeem(req.token, csrKeyFingerprint(req.csrPem));
    if (!node) throw new JoinTokenError('unknown, already used or expired');
    const id = Spiffe.node(this.opts.ca.trustDomain, node.cluster, node.node);
    return this.opts.ca.sign(req.csrPem, id, this.opts.nodeCertTtlMs);
  }

  /** The verified SPIFFE id of the client certificate, if the client presented a valid one. */
  private async callerId(
    call: grpc.ServerUnaryCall<unknown, unknown>,
  ): Promise<string | undefined> {
    const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
    if (!raw || raw.length === 0) return undefined;
    return this.opts.ca.verifyPeer(raw);
  }

  private handler<Req>(kind: string, fn: (call: Unary<Req>) => Promise<IssuedCertificate>) {
    return (call: Unary<Req>, cb: grpc.sendUnaryData<CertificateResponseWire>) => {
      fn(call).then(
        (c) => {
          this.issued.inc({ kind, result: 'ok' });
          this.opts.logger.info(
            { kind, spiffeId: c.spiffeId, notAfter: c.notAfter },
            'certificate issued',
          );
          cb(null, {
            spiffeId: c.spiffeId,
            certChainPem: [...c.certChainPem],
            trustBundlePem: c.trustBundlePem,
            notAfterUnixMs: String(c.notAfter.getTime()),
          });
        },
        (err: Error) => {
          this.issued.inc({ kind, result: 'denied' });
          this.opts.logger.warn({ kind, err: err.message }, 'certificate request refused');
          const code =
            err instanceof NotAuthorizedError
              ? grpc.status.PERMISSION_DENIED
              : err instanceof JoinTokenError
                ? grpc.status.UNAUTHENTICATED
                : err instanceof CsrInvalidError
                  ? grpc.status.INVALID_ARGUMENT
                  : grpc.status.INTERNAL;
          cb({ code, details: err.message });
        },
      );
    };
  }
}
