import { Subjects } from '@shoal/common';
import {
  clusterStream,
  newEventId,
  resourceStream,
  type EventEnvelope,
  type JsonObject,
} from './envelope.js';
import type { Change } from './diff.js';

export const EventTypes = {
  resourceUpserted: 'ResourceUpserted',
  resourceDeleted: 'ResourceDeleted',
  clusterRegistered: 'ClusterRegistered',
  clusterHeartbeat: 'ClusterHeartbeat',
} as const;

/** Subject token for cluster lifecycle events (`shoal.ev.<cluster>.Cluster`). */
export const CLUSTER_KIND = 'Cluster';

export interface EventContext {
  readonly cluster: string;
  /** Identity the agent authenticates as, e.g. `agent/<cluster>`. */
  readonly actor: string;
  /** `agent/kube` or `agent/manifest-dir`. */
  readonly source: string;
  readonly now: () => Date;
}

/** An event ready to publish, with the subject it goes to. */
export interface OutgoingEvent {
  readonly subject: string;
  readonly envelope: EventEnvelope;
}

function metadata(ctx: EventContext) {
  return {
    actor: ctx.actor,
    source: ctx.source,
    cluster: ctx.cluster,
    observedAt: ctx.now().toISOString(),
  };
}

export function changeToEvent(ctx: EventContext, change: Change): OutgoingEvent {
  if (change.op === 'upsert') {
    const r = change.resource;
    const key = { cluster: ctx.cluster, kind: r.kind, namespace: r.namespace, name: r.name };
    const data: JsonObject = { ...key, spec: r.spec };
    if (r.resourceVersion !== undefined) data.resourceVersion = r.resourceVersion;
    return {
      subject: Subjects.event(ctx.cluster, r.kind),
      envelope: {
        id: newEventId(),
        stream: resourceStream(key),
        type: EventTypes.resourceUpserted,
        data,
        metadata: metadata(ctx),
        schemaVersion: 1,
      },
    };
  }
  const key = { cluster: ctx.cluster, ...change.ref };
  return {
    subject: Subjects.event(ctx.cluster, change.ref.kind),
    envelope: {
      id: newEventId(),
      stream: resourceStream(key),
      type: EventTypes.resourceDeleted,
      data: { ...key },
      metadata: metadata(ctx),
      schemaVersion: 1,
    },
  };
}

export function clusterEvent(
  ctx: EventContext,
  type: (typeof EventTypes)['clusterRegistered' | 'clusterHeartbeat'],
  data: JsonObject,
): OutgoingEvent {
  return {
    subject: Subjects.event(ctx.cluster, CLUSTER_KIND),
    envelope: {
      id: newEventId(),
      stream: clusterStream(ctx.cluster),
      type,
      data: { cluster: ctx.cluster, ...data },
      metadata: metadata(ctx),
      schemaVersion: 1,
    },
  };
}
