/**
 * Node events (DESIGN.md §3 envelope) and where they go: JetStream subject
 * `shoal.ev.<cluster>.Node`, de-duplicated by Nats-Msg-Id = event id. Ingest (another service)
 * appends them to the store; here they are only published. When no stream captures the
 * subject (JetStream answers "no responders"), they are still published on core NATS so that
 * live subscribers see them, and the xDS server keeps going.
 */
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
    id: uuidv7(),
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

const RECHECK_MS = 30_000;

export class NatsEventSink implements EventSink {
  private readonly js: JetStreamClient;
  private inflight = new Set<Promise<void>>();
  /** Until when to skip JetStream after it said no stream captures the subject. */
  private noStreamUntil = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    this.js = jetstream(nc);
  }

  publish(ev: NodeEvent): void {
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
          const msg = err instanceof Error ? err.message : String(err);
          if (/no responders|503/i.test(msg)) {
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

  async flush(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
    await this.nc.flush();
  }

  private core(subject: string, payload: string, id: string): void {
    if (this.nc.isClosed()) return;
    const h = headers();
    h.set('Nats-Msg-Id', id);
    this.nc.publish(subject, payload, { headers: h });
  }
}

/** For tests and tools that do not look at events. */
export const discardEvents: EventSink = {
  publish: () => undefined,
  flush: () => Promise.resolve(),
};
