import { spiffeIdOf } from '@shoal/ca';
import type { PeerCertificate } from 'node:tls';

/** A certificate (chain) and its key for one SPIFFE identity. Immutable; replaced on rotation. */
export interface IdentityCert {
  readonly spiffeId: string;
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
  /** Bumped on every renewal, so pools know which sessions carry an old certificate. */
  readonly generation: number;
}

/** What the data plane needs from the cert manager: certs by identity plus the trust bundle. */
export interface CertSet {
  readonly trustBundlePem: string;
  readonly byIdentity: ReadonlyMap<string, IdentityCert>;
}

export const EMPTY_CERTS: CertSet = { trustBundlePem: '', byIdentity: new Map() };

/** SPIFFE id of a TLS peer whose chain TLS has already verified against the trust bundle. */
export function peerIdentity(cert: PeerCertificate | undefined): string | undefined {
  const raw = cert?.raw;
  if (!raw || raw.length === 0) return undefined;
  return spiffeIdOf(new Uint8Array(raw));
}

/** HTTP/2 settings for tunnels: large windows so one stream can fill the pipe. */
export const H2_SETTINGS = {
  initialWindowSize: 16 * 1024 * 1024 - 1,
  maxFrameSize: 256 * 1024,
  enablePush: false,
} as const;
export const H2_SESSION_WINDOW = 64 * 1024 * 1024;
