import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type Authenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@shoal/common';
import type { OutgoingEvent } from './core/events.js';
import { PublishDeniedError } from './errors.js';
import type { Outbox, OutboxRecord } from './outbox.js';

export interface PublisherOptions {
  readonly cluster: string;
  readonly servers: string;
  readonly authenticator?: Authenticator;
  /** Reply subjects for JetStream acks; the agent's NATS user may subscribe only there. */
  readonly inboxPrefix: string;
  readonly logger: Logger;
  /** Most publishes in flight at once (one window is acknowledged before the next is sent). */
  readonly window?: number;
  readonly ackTimeoutMs?: number;
  readonly retryMs?: number;
}

/**
 * Drains the outbox into JetStream, in order. Each window holds at most one event per event
 * stream (resource): if the connection drops mid-window, the client may re-send part of the
 * window after reconnecting and our retry re-sends the rest, so events of one window can land
 * out of order; with one event per resource per window, per-resource order still holds.
 * Re-sends carry the same Nats-Msg-Id (the event id): JetStream drops them inside its duplicate
 * window, and the store's append is idempotent on event id beyond it.
 */
export class Publisher {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private connected = false;
  private closed = false;
  private readonly sleepers = new Set<() => void>();
  private loops: Promise<void>[] = [];
  private readonly log: Logger;
  published = 0;
  lastError: Error | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly opts: PublisherOptions,
  ) {
    this.log = opts.logger.child({ component: 'publisher', cluster: opts.cluster });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.loops.push(this.connectLoop(), this.flushLoop());
  }

  /** New records were appended. */
  notify(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  /** Best-effort publish outside the outbox (heartbeats: a stale one is worth nothing). */
  async publishDirect(ev: OutgoingEvent): Promise<boolean> {
    if (!this.js || !this.connected) return false;
    try {
      await this.js.publish(ev.subject, JSON.stringify(ev.envelope), {
        msgID: ev.envelope.id,
        timeout: this.opts.ackTimeoutMs ?? 5000,
      });
      return true;
    } catch (err) {
      this.log.debug({ err, subject: ev.subject }, 'direct publish failed');
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.notify();
    const nc = this.nc;
    this.nc = undefined;
    await nc?.close().catch(() => undefined);
    await Promise.all(this.loops);
  }

  private async connectLoop(): Promise<void> {
    let delay = 250;
    while (!this.closed && !this.nc) {
      try {
        const nc = await connect({
          servers: this.opts.servers,
          name: `shoal-agent-${this.opts.cluster}`,
          inboxPrefix: this.opts.inboxPrefix,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          ...(this.opts.authenticator ? { authenticator: this.opts.authenticator } : {}),
        });
        if (this.closed) {
          await nc.close();
          return;
        }
        this.nc = nc;
        this.js = jetstream(nc, { timeout: this.opts.ackTimeoutMs ?? 5000 });
        this.connected = true;
        this.log.info({ server: nc.getServer() }, 'connected to NATS');
        this.notify();
        void this.watchStatus(nc);
      } catch (err) {
        this.log.warn({ err, retryInMs: delay }, 'NATS unreachable; events stay buffered on disk');
        await this.sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warn('disconnected from NATS; buffering');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log.info('reconnected to NATS; flushing the buffer');
        this.notify();
      }
    }
  }

  private async flushLoop(): Promise<void> {
    while (!this.closed) {
      const window = this.connected ? nextWindow(this.outbox, this.opts.window ?? 256) : [];
      if (window.length === 0) {
        await this.sleep(this.connected ? 1000 : 250);
        continue;
      }
      const ok = await this.publishWindow(window);
      if (!ok && !this.closed) await this.sleep(this.opts.retryMs ?? 500);
    }
  }

  /** Publish one window; acknowledge the longest all-successful prefix. */
  private async publishWindow(window: readonly OutboxRecord[]): Promise<boolean> {
    const js = this.js!;
    const timeout = this.opts.ackTimeoutMs ?? 5000;
    const results = await Promise.allSettled(
      window.map((r) =>
        js.publish(r.subject, JSON.stringify(r.envelope), { msgID: r.envelope.id, timeout }),
      ),
    );
    const firstFailure = results.findIndex((r) => r.status === 'rejected');
    const okCount = firstFailure < 0 ? window.length : firstFailure;
    if (okCount > 0) {
      await this.outbox.ack(window[okCount - 1]!.seq);
      this.published += okCount;
    }
    if (firstFailure < 0) return true;
    const failed = window[firstFailure]!;
    const reason = (results[firstFailure] as PromiseRejectedResult).reason as Error;
    const denied = /permission/i.test(String(reason?.message ?? reason));
    this.lastError = denied
      ? new PublishDeniedError(this.opts.cluster, failed.subject, reason)
      : reason;
    if (denied)
      this.log.error({ err: this.lastError }, 'publish refused by NATS; events stay buffered');
    else
      this.log.warn(
        { err: reason, seq: failed.seq, pending: this.outbox.pendingCount },
        'publish failed; retrying',
      );
    return false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}

/** The next records to send: in order, stopping before a second event of the same stream. */
export function nextWindow(outbox: Outbox, max: number): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  const streams = new Set<string>();
  for (const r of outbox.pending(max)) {
    if (streams.has(r.envelope.stream)) break;
    streams.add(r.envelope.stream);
    out.push(r);
  }
  return out;
}
