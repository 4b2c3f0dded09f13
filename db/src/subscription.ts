import pg from 'pg';
import { PgChannels, type Logger } from '@shoal/common';
import type { Checkpoint, EventStore, RecordedEvent } from './event-store.js';

export interface SubscriptionOptions {
  readonly from: Checkpoint;
  /** Handle one batch; the subscription moves on only after it resolves. */
  readonly handler: (events: RecordedEvent[], checkpoint: Checkpoint) => Promise<void>;
  readonly logger: Logger;
  readonly batchSize?: number;
  /** Safety net if a notification is lost (e.g. while reconnecting); not the wake-up path. */
  readonly pollIntervalMs?: number;
  /** Retry delay after a failed read or handler. */
  readonly retryMs?: number;
}

export interface Subscription {
  /** Where the subscription has got to (after the last handled batch). */
  readonly checkpoint: Checkpoint;
  close(): Promise<void>;
}

/**
 * Follow the log from a checkpoint: read, hand each batch to the handler, then sleep until
 * PostgreSQL NOTIFYs that events were appended (sent at commit by a trigger) or the slow safety
 * poll fires. When committed events are held back by an older open transaction (readAll may not
 * pass it), it re-reads on a short backoff instead, because that transaction may end in a
 * rollback, which sends no notification.
 */
export function subscribe(store: EventStore, opts: SubscriptionOptions): Subscription {
  const batchSize = opts.batchSize ?? 1000;
  const pollMs = opts.pollIntervalMs ?? 5_000;
  const retryMs = opts.retryMs ?? 1_000;
  const log = opts.logger;
  let checkpoint = opts.from;
  let closed = false;
  let wake: (() => void) | undefined;
  // Set by a notification that arrives while a read is running, so the next sleep is skipped.
  let pending = false;
  const notified = () => {
    pending = true;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (pending) return resolve();
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const loop = async (): Promise<void> => {
    while (!closed) {
      let delay = pollMs;
      pending = false;
      try {
        const page = await store.readAll(checkpoint, batchSize);
        if (page.events.length > 0) {
          await opts.handler(page.events, page.checkpoint);
          checkpoint = page.checkpoint;
          if (page.events.length === batchSize) continue;
        }
        if (await store.hasUnsafeTail()) delay = Math.min(pollMs, 100);
      } catch (err) {
        if (closed) break;
        log.warn({ err, checkpoint }, 'subscription read or handler failed; retrying');
        delay = retryMs;
      }
      if (!closed) await sleep(delay);
    }
  };

  const listening = listenForAppends(store.pool, notified, { logger: log, retryMs });
  const running = loop();
  return {
    get checkpoint() {
      return checkpoint;
    },
    async close() {
      closed = true;
      notified();
      await listening.close();
      await running;
    },
  };
}

/**
 * Call `onAppended` whenever PostgreSQL NOTIFYs that events were committed (a trigger sends it at
 * commit), on a dedicated connection that reconnects after a failure; also once per (re)connect,
 * for whatever was appended while not listening.
 */
export function listenForAppends(
  pool: pg.Pool,
  onAppended: () => void,
  opts: { logger: Logger; retryMs?: number },
): { close(): Promise<void> } {
  const log = opts.logger;
  const retryMs = opts.retryMs ?? 1_000;
  let closed = false;
  let listener: pg.Client | undefined;
  const run = async (): Promise<void> => {
    while (!closed) {
      const client = new pg.Client(pool.options);
      const lost = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          log.warn({ err }, 'LISTEN connection lost; reconnecting');
          resolve();
        });
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', onAppended);
        await client.query(`LISTEN ${PgChannels.eventsAppended}`);
        listener = client;
        if (closed) break; // closed while connecting: finally ends the connection
        onAppended(); // anything appended while we were not listening
        await lost;
      } catch (err) {
        log.warn({ err }, 'cannot LISTEN for appended events; retrying');
      } finally {
        listener = undefined;
        await client.end().catch(() => undefined);
      }
      if (!closed) await new Promise((r) => setTimeout(r, retryMs));
    }
  };
  const running = run();
  return {
    async close() {
      closed = true;
      await listener?.end().catch(() => undefined);
      await running;
    },
  };
}
