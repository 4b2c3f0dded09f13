import { Spiffe } from '@shoal/common';
import { NotAuthorizedError } from './errors.js';
import type { NodeRef, WorkloadRegistry } from './registry.js';

/**
 * Pure-ish authorization of a workload certificate request: a node (identified by the SPIFFE id
 * of its own client certificate) may get the identity of a service account only when a workload
 * of that service account is scheduled on it.
 */
export async function authorizeWorkloadCert(
  registry: WorkloadRegistry,
  trustDomain: string,
  callerId: string | undefined,
  namespace: string,
  serviceAccount: string,
): Promise<{ node: NodeRef; spiffeId: string }> {
  const requested = Spiffe.workload(trustDomain, namespace, serviceAccount);
  const caller = callerId ? Spiffe.parse(callerId) : undefined;
  if (!caller || caller.kind !== 'node' || caller.trustDomain !== trustDomain) {
    throw new NotAuthorizedError(
      callerId ?? 'an unauthenticated caller',
      requested,
      'only nodes of this trust domain, presenting their node certificate, may request workload certificates',
    );
  }
  const node = { cluster: caller.cluster, node: caller.node };
  const workloads = await registry.workloadsOn(node);
  if (!workloads.some((w) => w.namespace === namespace && w.serviceAccount === serviceAccount)) {
    throw new NotAuthorizedError(
      callerId!,
      requested,
      `no workload of service account ${namespace}/${serviceAccount} is scheduled on node ${node.cluster}/${node.node}`,
    );
  }
  return { node, spiffeId: requested };
}
