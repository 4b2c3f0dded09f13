// Test helpers shared by ingest's integration tests and the ingest benchmark (not exported).
import type { JetStreamClient } from '@nats-io/jetstream';
import { Subjects } from '@shoal/common';
import { newEventId, resourceStream, type EventEnvelope } from '@shoal/db';

export function resourceEvent(
  cluster: string,
  name: string,
  seq: number,
  opts: { kind?: string; padding?: number } = {},
): EventEnvelope {
  const kind = opts.kind ?? 'Service';
  const data = {
    cluster,
    kind,
    namespace: 'default',
    name,
    spec: {
      seq,
      port: 8000 + (seq % 100),
      ...(opts.padding ? { pad: 'x'.repeat(opts.padding) } : {}),
    },
  };
  return {
    id: newEventId(),
    stream: resourceStream(data),
    type: 'ResourceUpserted',
    data,
    metadata: {
      actor: `agent:${cluster}`,
      source: 'agent/test',
      cluster,
      observedAt: new Date().toISOString(),
    },
    schemaVersion: 1,
  };
}

export async function publishEvent(
  js: JetStreamClient,
  e: EventEnvelope,
  opts: { msgId?: boolean } = {},
) {
  return js.publish(Subjects.event(e.metadata.cluster, e.data.kind as string), JSON.stringify(e), {
    ...(opts.msgId === false ? {} : { msgID: e.id }),
  });
}
