/**
 * The one module of names shared across stages: JetStream streams, subjects, consumers. Never
 * build a subject string in place; use these.
 */

/** A NATS subject token for cluster names and kinds: no dots, spaces or wildcards. */
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function assertSubjectToken(what: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new Error(
      `${what} "${value}" cannot be used in a NATS subject: use letters, digits, "-" or "_" (1-128 characters)`,
    );
  }
  return value;
}

export const Streams = {
  /** Every resource and control-plane event, before ingest appends it to the store. */
  events: 'SHOAL_EVENTS',
  /** Messages ingest could not accept, with the reason in headers. */
  deadLetter: 'SHOAL_DEAD_LETTER',
} as const;

export const Subjects = {
  eventsRoot: 'shoal.ev',
  /** All event subjects: `shoal.ev.<cluster>.<kind>`. */
  eventsAll: 'shoal.ev.>',
  event(cluster: string, kind: string): string {
    return `shoal.ev.${assertSubjectToken('cluster', cluster)}.${assertSubjectToken('kind', kind)}`;
  },
  /** Events of one cluster (the subject space an agent of that cluster may publish to). */
  clusterEvents(cluster: string): string {
    return `shoal.ev.${assertSubjectToken('cluster', cluster)}.>`;
  },
  /**
   * Reply subjects (JetStream publish acks) of one cluster's agent, set as its connection's
   * inboxPrefix: the only subjects its NATS user may subscribe to (deploy/nats).
   */
  agentInbox(cluster: string): string {
    return `_INBOX.agent.${assertSubjectToken('cluster', cluster)}`;
  },
  deadLetterAll: 'shoal.dlq.>',
  deadLetter(reason: string): string {
    return `shoal.dlq.${assertSubjectToken('reason', reason)}`;
  },
  /**
   * xDS convergence query (request/reply, answered by every xDS replica for the nodes connected
   * to it): "has every connected node of cluster C ACKed version V?".
   */
  xdsConvergence(cluster: string): string {
    return `shoal.xds.convergence.${assertSubjectToken('cluster', cluster)}`;
  },
  xdsConvergenceAll: 'shoal.xds.convergence.*',
  /** Data-plane stats of one node worker (per config version and service), for rollout gates. */
  nodeStats(cluster: string, node: string): string {
    return `shoal.stats.${assertSubjectToken('cluster', cluster)}.${assertSubjectToken('node', node)}`;
  },
  nodeStatsAll: 'shoal.stats.>',
} as const;

/** JetStream key-value and object-store buckets. */
export const Buckets = {
  /** xDS: cluster → {version, assignedAt, by}; every xDS replica watches it. */
  xdsAssignments: 'SHOAL_XDS_ASSIGNMENTS',
  /** xDS: cluster → newest published config version (for autoAssignNewest). */
  xdsPublished: 'SHOAL_XDS_PUBLISHED',
  /** xDS: object store of immutable config versions, object `<cluster>/<version>`. */
  xdsConfig: 'SHOAL_XDS_CONFIG',
} as const;

export const Consumers = {
  ingest: 'shoal-ingest',
} as const;

/** Postgres NOTIFY channel on which the store announces new events. */
export const PgChannels = {
  eventsAppended: 'shoal_events_appended',
} as const;

export const TaskQueues = {
  rollouts: 'shoal-rollouts',
} as const;

/**
 * SPIFFE identities. Workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account> (as
 * Istio). Node workers: spiffe://<trust-domain>/shoal/node/<cluster>/<node>; the xDS server and
 * CA take a node's identity from this URI SAN of its client certificate, never from the request.
 */
export const Spiffe = {
  workload(trustDomain: string, namespace: string, serviceAccount: string): string {
    return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
  },
  node(trustDomain: string, cluster: string, node: string): string {
    return `spiffe://${trustDomain}/shoal/node/${assertSubjectToken('cluster', cluster)}/${assertSubjectToken('node', node)}`;
  },
  parse(
    uri: string,
  ):
    | { kind: 'workload'; trustDomain: string; namespace: string; serviceAccount: string }
    | { kind: 'node'; trustDomain: string; cluster: string; node: string }
    | undefined {
    const w = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
    if (w) return { kind: 'workload', trustDomain: w[1]!, namespace: w[2]!, serviceAccount: w[3]! };
    const n = /^spiffe:\/\/([^/]+)\/shoal\/node\/([^/]+)\/([^/]+)$/.exec(uri);
    if (n) return { kind: 'node', trustDomain: n[1]!, cluster: n[2]!, node: n[3]! };
    return undefined;
  },
};
