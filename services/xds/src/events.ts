/**
 * Node events (DESIGN.md §3 envelope) and where they go: JetStream subject
 * `shoal.ev.<cluster>.Node`, de-duplicated by Nats-Msg-Id = event id. Ingest (another service)
 * appends them to the store; here they are only published. When no stream captures the
 * subject (JetStream answers "no responders"), they are still published on core NATS so that
 * live subscribers see them, and the xDS server keeps going.
 */
import { randomFillSync } from 'node:crypto';
import { Subjects, type Logger } from '@shoal/common';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';

export interface NodeEvent {
  readonly id: string;
  readonly stream: string;
  readonly type: 'NodeConfigAcked' | 'NodeConfigRejected';
  readonly data: Readonly<Record<string, unknown>>;
  readonly metadata: {
    readonly actor: string;
    readonly source: 'xds';
    readonly cluster: string;
    readonly observedAt: string;
    readonly replica?: string;
    readonly proxyless?: boolean;
  };
  readonly schemaVersion: 1;
}

export interface EventSink {
  publish(ev: NodeEvent): void;
  /** Resolves when everything published so far was handed to NATS. */
  flush(): Promise<void>;
}

export function nodeEvent(
  type: NodeEvent['type'],
  info: { cluster: string; node: string; spiffeId: string | undefined; proxyless: boolean },
  now: number,
  data: Record<string, unknown>,
): NodeEvent {
  return {
    id: eventId(),
    stream: `node/${info.cluster}/${info.node}`,
    type,
    data: { cluster: info.cluster, node: info.node, ...data },
    metadata: {
      // Proxyless clients have no certificate: their node id is what they claimed.
      actor: info.spiffeId ?? `proxyless:${info.cluster}/${info.node}`,
      source: 'xds',
      cluster: info.cluster,
      observedAt: new Date(now).toISOString(),
      ...(info.proxyless ? { proxyless: true } : {}),
    },
    schemaVersion: 1,
  };
}

/**
 * A UUIDv7 for an event. Every node's ACK of every version is an event, thousands per push, and
 * uuid's own v7 asks OpenSSL for 16 random bytes per id: draw them from a pool instead, keeping
 * uuid's ordering (a counter seeded at random, bumped within the same millisecond).
 */
function eventId(): string {
  const now = Date.now();
  if (pool.at + 16 > pool.bytes.length) {
    randomFillSync(pool.bytes);
    pool.at = 0;
  }
  const random = pool.bytes.subarray(pool.at, (pool.at += 16));
  if (now > clock.msecs) {
    clock.msecs = now;
    clock.seq = random.readUInt32BE(6) & 0x7fffffff;
  } else {
    clock.seq = (clock.seq + 1) | 0;
    if (clock.seq === 0) clock.msecs += 1;
  }
  return uuidv7({ random, msecs: clock.msecs, seq: clock.seq });
}
const pool = { bytes: Buffer.alloc(16 * 256), at: 16 * 256 };
const clock = { msecs: -Infinity, seq: 0 };

const RECHECK_MS = 30_000;

export class NatsEventSink implements EventSink {
  private readonly js: JetStreamClient;
  private inflight = new Set<Promise<void>>();
  /** Until when to skip JetStream after it said no stream captures the subject. */
  private noStreamUntil = 0;
  /** Events of this turn of the event loop, not yet handed to NATS. */
  private queued: NodeEvent[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
  }

  publish(ev: NodeEvent): void {
    // ACKs arrive one stream (one socket read) at a time: handed to NATS right away, each event
    // cost its own write to the NATS socket. Sent together, a push's events share a few writes.
    this.queued.push(ev);
    if (this.queued.length === 1) setImmediate(() => this.sendQueued());
  }

  async flush(): Promise<void> {
    this.sendQueued();
    await Promise.allSettled([...this.inflight]);
    await this.nc.flush();
  }

  private sendQueued(): void {
    const evs = this.queued;
    this.queued = [];
    for (const ev of evs) this.send(ev);
  }

  private send(ev: NodeEvent): void {
    const subject = Subjects.event(ev.metadata.cluster, 'Node');
    const payload = JSON.stringify(ev);
    if (Date.now() < this.noStreamUntil) {
      this.core(subject, payload, ev.id);
      return;
    }
    const p = this.js
      .publish(subject, payload, { msgID: ev.id, timeout: 5000 })
      .then(
        () => undefined,
        (err: unknown) => {
          if (isNoStream(err)) {
            this.noStreamUntil = Date.now() + RECHECK_MS;
            this.logger.debug({ subject }, 'no JetStream stream for node events; using core NATS');
          } else {
            this.logger.warn(
              { err, subject, event: ev.id },
              'cannot publish node event to JetStream',
            );
          }
          this.core(subject, payload, ev.id);
        },
      )
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private core(subject: string, payload: string, id: string): void {
    if (this.nc.isClosed()) return;
    const h = headers();
    h.set('Nats-Msg-Id', id);
    this.nc.publish(subject, payload, { headers: h });
  }
}

/**
 * JetStream's answer when no stream captures a subject: a 503 "no responders", which nats.js v3
 * reports as JetStreamNotEnabled (caused by a RequestError). Missing it made every node event
 * log a warning with a full stack, which dominated the server's CPU during fan-out.
 */
function isNoStream(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e.name === 'JetStreamNotEnabled' || /no responders|503/i.test(e.message)) return true;
  }
  return false;
}

/** For tests and tools that do not look at events. */
export const discardEvents: EventSink = {
  publish: () => undefined,
  flush: () => Promise.resolve(),
};
