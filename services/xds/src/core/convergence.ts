/**
 * Per-node progress and the rollout gate's question: has every connected node of a cluster
 * ACKed version V for all the types it subscribed to? A NACK is always part of the answer.
 */
import type { TypeProgress } from './types.js';

export interface NodeProgress {
  readonly cluster: string;
  readonly node: string;
  readonly proxyless: boolean;
  readonly connectedAt: number;
  /** The xDS server replica the node is connected to. */
  readonly replica: string;
  readonly types: readonly TypeProgress[];
  readonly lastNack?: {
    readonly typeUrl: string;
    readonly version: string;
    readonly message: string;
    readonly at: number;
  };
}

export interface NodeConvergence {
  readonly node: string;
  /** The version every subscribed type runs, when they agree and none is waiting for an ACK. */
  readonly ackedVersion: string | undefined;
  readonly replica: string;
  readonly nack?: { readonly typeUrl: string; readonly version: string; readonly message: string };
}

export interface Convergence {
  readonly cluster: string;
  readonly version: string;
  /** True when at least one node is connected and every connected node ACKed `version`. */
  readonly converged: boolean;
  readonly nodes: readonly NodeConvergence[];
}

/** The version a node runs for all its types, or undefined while they differ or one is pending. */
export function nodeVersion(types: readonly TypeProgress[]): string | undefined {
  let v: string | undefined;
  for (const t of types) {
    if (t.pending || t.at === undefined || (v !== undefined && t.at !== v)) return undefined;
    v = t.at;
  }
  return v;
}

export function convergence(
  cluster: string,
  version: string,
  nodes: readonly NodeProgress[],
): Convergence {
  // A node may briefly hold streams on two replicas while it reconnects: keep the newest.
  const newest = new Map<string, NodeProgress>();
  for (const n of nodes) {
    if (n.cluster !== cluster) continue;
    const cur = newest.get(n.node);
    if (!cur || n.connectedAt > cur.connectedAt) newest.set(n.node, n);
  }
  const out: NodeConvergence[] = [...newest.values()]
    .sort((a, b) => (a.node < b.node ? -1 : 1))
    .map((n) => {
      const nack = n.types.find((t) => t.nack)?.nack;
      const nackType = n.types.find((t) => t.nack)?.typeUrl;
      return {
        node: n.node,
        ackedVersion: nodeVersion(n.types),
        replica: n.replica,
        ...(nack && nackType ? { nack: { typeUrl: nackType, ...nack } } : {}),
      };
    });
  return {
    cluster,
    version,
    converged: out.length > 0 && out.every((n) => n.ackedVersion === version && !n.nack),
    nodes: out,
  };
}
