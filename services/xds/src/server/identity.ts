/**
 * Who is on the other end of a stream. On the mTLS listener: the node SPIFFE id in the client
 * certificate's URI SAN (spiffe://<td>/shoal/node/<cluster>/<node>); the request's node.id may
 * repeat it but never overrides it. On the opt-in plaintext listener: a proxyless client of
 * the cluster it names, which only ever gets that cluster's proxyless config.
 */
import type { PeerCertificate } from 'node:tls';
import { Spiffe, assertSubjectToken } from '@shoal/common';
import { PROXYLESS_NODE } from '@shoal/proto';
import { NodeIdentityError } from '../errors.js';

export interface StreamIdentity {
  readonly cluster: string;
  /** The node whose config is served: the certificate's node, or PROXYLESS_NODE. */
  readonly node: string;
  /** The name the node is tracked under (for proxyless clients: their node.id). */
  readonly reportedNode: string;
  readonly spiffeId: string | undefined;
  readonly proxyless: boolean;
}

/** The `node` of a DiscoveryRequest as proto-loader decodes it (keepCase). */
export interface RequestNode {
  readonly id?: string;
  readonly cluster?: string;
  readonly metadata?: { fields?: Record<string, { string_value?: string }> } | null;
}

export function uriSans(cert: PeerCertificate | undefined): string[] {
  const san = cert?.subjectaltname ?? '';
  return san
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

export function identityFromCertificate(
  cert: PeerCertificate | undefined,
  trustDomain: string,
): StreamIdentity {
  if (!cert) {
    throw new NodeIdentityError(
      'unauthenticated',
      'no verified client certificate: the xDS server requires mutual TLS with a Shoal node ' +
        'certificate (URI SAN spiffe://<trust-domain>/shoal/node/<cluster>/<node>)',
    );
  }
  const uris = uriSans(cert);
  for (const uri of uris) {
    const id = Spiffe.parse(uri);
    if (id?.kind !== 'node') continue;
    if (id.trustDomain !== trustDomain) {
      throw new NodeIdentityError(
        'unauthenticated',
        `client certificate identity ${uri} is from trust domain "${id.trustDomain}", ` +
          `this xDS server serves "${trustDomain}"`,
        { uri },
      );
    }
    return {
      cluster: id.cluster,
      node: id.node,
      reportedNode: id.node,
      spiffeId: uri,
      proxyless: false,
    };
  }
  throw new NodeIdentityError(
    'unauthenticated',
    `client certificate has no Shoal node identity: expected a URI SAN ` +
      `spiffe://${trustDomain}/shoal/node/<cluster>/<node>, found ${uris.length > 0 ? uris.join(', ') : 'no URI SAN'}`,
    { uris },
  );
}

/**
 * node.id is optional; when present it must name the certificate's node, written as the node
 * name, `<cluster>/<node>` or the full SPIFFE id.
 */
export function checkRequestNode(identity: StreamIdentity, node: RequestNode | undefined): void {
  const claimed = node?.id;
  if (!claimed || identity.proxyless) return;
  const ok = [identity.node, `${identity.cluster}/${identity.node}`, identity.spiffeId].includes(
    claimed,
  );
  if (!ok) {
    throw new NodeIdentityError(
      'permission-denied',
      `node.id "${claimed}" does not match the client certificate identity ${identity.spiffeId}: ` +
        `a node may only ask for its own config (omit node.id or set it to "${identity.node}")`,
      { claimed, spiffeId: identity.spiffeId },
    );
  }
}

/** Metadata key a proxyless client may use to name its cluster instead of node.cluster. */
export const CLUSTER_METADATA_KEY = 'SHOAL_CLUSTER';

export function proxylessIdentity(node: RequestNode | undefined): StreamIdentity {
  const cluster =
    node?.metadata?.fields?.[CLUSTER_METADATA_KEY]?.string_value ?? node?.cluster ?? '';
  if (cluster === '') {
    throw new NodeIdentityError(
      'unauthenticated',
      `proxyless client did not name its cluster: set node.cluster (or node.metadata.${CLUSTER_METADATA_KEY}) ` +
        `in the xDS bootstrap`,
    );
  }
  try {
    assertSubjectToken('cluster', cluster);
  } catch (err) {
    throw new NodeIdentityError('unauthenticated', (err as Error).message, { cluster });
  }
  const id = node?.id ?? '';
  return {
    cluster,
    node: PROXYLESS_NODE,
    reportedNode: id === '' ? 'proxyless-anonymous' : `proxyless:${id}`,
    spiffeId: undefined,
    proxyless: true,
  };
}
