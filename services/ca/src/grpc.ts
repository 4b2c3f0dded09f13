import * as grpc from '@grpc/grpc-js';
import { grpcService } from '@shoal/proto';

export interface CertificateResponseWire {
  spiffeId: string;
  certChainPem: string[];
  trustBundlePem: string;
  notAfterUnixMs: string;
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The service definition of shoal.ca.v1.CertificateAuthority (from @shoal/proto's schema). */
export function caService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  cached = grpc.makeGenericClientConstructor(
    grpcService('shoal.ca.v1.CertificateAuthority', {
      longs: String,
      defaults: true,
    }),
    'CertificateAuthority',
  );
  return cached;
}

/** SPIFFE id the CA server presents; clients check it instead of a hostname. */
export function caSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/shoal/ca`;
}

/** A certificate provider with a fixed (settable) identity and CA, for grpc-js server creds. */
export class StaticCertificateProvider implements grpc.experimental.CertificateProvider {
  private ca: grpc.experimental.CaCertificateUpdate | null;
  private identity: grpc.experimental.IdentityCertificateUpdate | null;
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly idListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();

  constructor(caPem: string, certPem: string, keyPem: string) {
    this.ca = { caCertificate: Buffer.from(caPem) };
    this.identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
  }

  update(certPem: string, keyPem: string): void {
    this.identity = { certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) };
    for (const l of this.idListeners) l(this.identity);
  }

  addCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(l);
    // Deliver after grpc-js has registered its own watcher (it adds ours first).
    setImmediate(() => l(this.ca));
  }
  removeCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.idListeners.add(l);
    setImmediate(() => l(this.identity));
  }
  removeIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.idListeners.delete(l);
  }
}
