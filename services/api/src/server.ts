import * as grpc from '@grpc/grpc-js';
import { ShoalError, type Logger, type Runner } from '@shoal/common';
import {
  authenticateCertificate,
  authenticateToken,
  type Principal,
  type TokenRegistry,
} from './auth.js';
import { PermissionDeniedError, UnauthenticatedError } from './errors.js';
import { shoalService } from './grpc.js';
import { METHOD_PERMISSIONS, can, type Role } from './rbac.js';

/** One API method: request in, response out, with the authenticated caller. */
export type Handler = (req: Record<string, unknown>, caller: Principal) => Promise<object>;

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  /** PEM: the server certificate chain and key, and the CA that signs client certificates. */
  readonly tls: { certChain: string; privateKey: string; clientCa: string };
  readonly tokens: TokenRegistry;
  /** SPIFFE ids of machine clients allowed in with a client certificate, and their roles. */
  readonly certificateRoles?: ReadonlyMap<string, Role>;
  readonly handlers: Partial<Record<string, Handler>>;
  readonly logger: Logger;
}

const STATUS: Record<string, grpc.status> = {
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  CONFLICT: grpc.status.ABORTED,
  NOT_FOUND: grpc.status.NOT_FOUND,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  UNIMPLEMENTED: grpc.status.UNIMPLEMENTED,
};

/** Map an error to a gRPC status at the edge; internal errors are logged, not leaked. */
export function toStatus(err: unknown, log: Logger): Partial<grpc.StatusObject> {
  if (err instanceof ShoalError) {
    const code = STATUS[err.code] ?? grpc.status.FAILED_PRECONDITION;
    const metadata = new grpc.Metadata();
    metadata.set('shoal-error-code', err.code);
    if (Object.keys(err.details).length > 0)
      metadata.set('shoal-error-details', JSON.stringify(err.details));
    return { code, details: err.message, metadata };
  }
  log.error({ err }, 'internal error');
  return { code: grpc.status.INTERNAL, details: 'internal error (see the API server log)' };
}

/**
 * A static certificate provider. It answers asynchronously on purpose: grpc-js registers its
 * context watcher only after adding provider listeners, so a synchronous answer would be lost.
 */
class StaticCertificates implements grpc.experimental.CertificateProvider {
  constructor(private readonly tls: ApiServerOptions['tls']) {}
  addCaCertificateListener(l: (u: { caCertificate: Buffer } | null) => void): void {
    setImmediate(() => l({ caCertificate: Buffer.from(this.tls.clientCa) }));
  }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(
    l: (u: { certificate: Buffer; privateKey: Buffer } | null) => void,
  ): void {
    l({
      certificate: Buffer.from(this.tls.certChain),
      privateKey: Buffer.from(this.tls.privateKey),
    });
  }
  removeIdentityCertificateListener(): void {}
}

function peerSpiffeId(call: grpc.ServerUnaryCall<unknown, unknown>): string | undefined {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  const uri = san
    .split(',')
    .map((s) => s.trim())
    .find((s) => s.startsWith('URI:spiffe://'));
  return uri?.slice(4);
}

/**
 * The API server: TLS always; a client certificate is optional (requested, verified against
 * Shoal's CA when presented). Each call is authenticated (token, else certificate), authorized
 * by its method's permission (fail closed), then handled; errors map to gRPC status here only.
 */
export class ApiServer implements Runner {
  readonly name = 'api';
  private server: grpc.Server | undefined;
  private boundPort = 0;

  constructor(private readonly opts: ApiServerOptions) {}

  get port(): number {
    return this.boundPort;
  }

  authenticate(call: grpc.ServerUnaryCall<unknown, unknown>): Principal {
    const header = call.metadata.get('authorization')[0];
    if (header !== undefined) return authenticateToken(String(header), this.opts.tokens);
    const byCert = authenticateCertificate(
      peerSpiffeId(call),
      this.opts.certificateRoles ?? new Map(),
    );
    if (byCert) return byCert;
    return authenticateToken(undefined, this.opts.tokens);
  }

  async start(): Promise<void> {
    const log = this.opts.logger.child({ component: 'api' });
    const server = new grpc.Server();
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name] of Object.entries(shoalService())) {
      const method = name.charAt(0).toUpperCase() + name.slice(1);
      impl[name] = (
        call: grpc.ServerUnaryCall<Record<string, unknown>, object>,
        cb: grpc.sendUnaryData<object>,
      ) => {
        const t0 = Date.now();
        let caller: Principal | undefined;
        void (async () => {
          caller = this.authenticate(call);
          const needed = METHOD_PERMISSIONS[method];
          if (!needed)
            throw new PermissionDeniedError(caller.actor, caller.role, method, 'unlisted');
          if (!can(caller.role, needed))
            throw new PermissionDeniedError(caller.actor, caller.role, method, needed);
          const handler = this.opts.handlers[method];
          if (!handler) {
            throw new ShoalError(
              'UNIMPLEMENTED',
              `${method} is not available on this API server yet`,
            );
          }
          return handler(call.request, caller);
        })().then(
          (res) => {
            log.info({ method, actor: caller?.actor, ms: Date.now() - t0 }, 'call');
            cb(null, res);
          },
          (err: unknown) => {
            const level =
              err instanceof UnauthenticatedError || err instanceof PermissionDeniedError
                ? 'warn'
                : 'info';
            log[level](
              { method, actor: caller?.actor, err: (err as Error).message },
              'call refused or failed',
            );
            cb(toStatus(err, log) as grpc.ServiceError);
          },
        );
      };
    }
    server.addService(shoalService(), impl);
    const creds = grpc.experimental.createCertificateProviderServerCredentials(
      new StaticCertificates(this.opts.tls),
      new StaticCertificates(this.opts.tls),
      false,
    );
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.opts.host}:${this.opts.port}`, creds, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
    // Let the certificate providers deliver before the first client connects.
    await new Promise((r) => setImmediate(r));
    log.info({ host: this.opts.host, port: this.boundPort }, 'API listening (TLS)');
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.forceShutdown();
        resolve();
      }, 5000);
      s.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
