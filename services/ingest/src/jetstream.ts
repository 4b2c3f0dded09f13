import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { Streams, Subjects } from '@shoal/common';
import type { IngestConfig } from './config.js';

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }) {
  try {
    await jsm.streams.info(cfg.name);
    await jsm.streams.update(cfg.name, cfg);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(cfg);
  }
}

/** Create or update SHOAL_EVENTS, the dead-letter stream and ingest's durable pull consumer. */
export async function ensureJetStream(jsm: JetStreamManager, cfg: IngestConfig): Promise<void> {
  await ensureStream(jsm, {
    name: Streams.events,
    subjects: [Subjects.eventsAll],
    storage: StorageType.File,
    num_replicas: cfg.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(cfg.maxAge),
    duplicate_window: nanos(cfg.duplicateWindow),
  });
  await ensureStream(jsm, {
    name: Streams.deadLetter,
    subjects: [Subjects.deadLetterAll],
    storage: StorageType.File,
    num_replicas: cfg.replicas,
    retention: RetentionPolicy.Limits,
    max_age: nanos(30 * 24 * 3_600_000),
    duplicate_window: nanos(cfg.duplicateWindow),
  });
  const consumer = {
    durable_name: cfg.consumer,
    // Cumulative acks: batches are appended strictly in order by a single leader.
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(cfg.ackWait),
    max_ack_pending: cfg.maxAckPending,
    max_deliver: -1,
  };
  try {
    await jsm.consumers.info(Streams.events, cfg.consumer);
    await jsm.consumers.update(Streams.events, cfg.consumer, {
      ack_wait: consumer.ack_wait,
      max_ack_pending: consumer.max_ack_pending,
    });
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message)) throw err;
    await jsm.consumers.add(Streams.events, consumer);
  }
}
