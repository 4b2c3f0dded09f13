import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_INCLUDE_DIRS } from '@shoal/proto';

export interface CertificateResponseWire {
  spiffeId: string;
  certChainPem: string[];
  trustBundlePem: string;
  notAfterUnixMs: string;
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated-at-runtime service definition of shoal.ca.v1.CertificateAuthority. */
export function caService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const def = protoLoader.loadSync('shoal/ca/v1/ca.proto', {
    includeDirs: [...PROTO_INCLUDE_DIRS],
    keepCase: false,
    longs: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    shoal: { ca: { v1: { CertificateAuthority: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.shoal.ca.v1.CertificateAuthority;
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
