import {
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JsMsg,
} from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { Streams, Subjects, type Logger, type Runner } from '@shoal/common';
import {
  EventIdConflictError,
  EventStore,
  PreparedAppend,
  PreparedRequest,
  StreamHeads,
  encodeEvent,
  migrateDatabase,
  seal,
} from '@shoal/db';
import type { IngestConfig } from './config.js';
import { DeadLetterError, LeadershipLostError } from './errors.js';
import { ensureJetStream } from './jetstream.js';
import { ingestMetrics, type IngestMetrics } from './metrics.js';
import { checkMessage, type DeadLetterReason } from './validate.js';

export interface IngestDeps {
  readonly logger: Logger;
  /** Where ingest's metrics go (the process's AdminServer registry). */
  readonly registry: Registry;
}

export interface Ingest extends Runner {
  readonly metrics: IngestMetrics;
  /** True while this process holds the leader lock and consumes. */
  isLeader(): boolean;
  /** Resolves when NATS and PostgreSQL answer; rejects with the reason otherwise. */
  ready(): Promise<void>;
}

/** Header names on dead-lettered messages. */
export const DeadLetterHeaders = {
  reason: 'Shoal-Dead-Letter-Reason',
  detail: 'Shoal-Dead-Letter-Detail',
  subject: 'Shoal-Original-Subject',
  seq: 'Shoal-Original-Seq',
} as const;

/**
 * NATS JetStream → event store.
 *
 * Order and exactly-once: exactly one ingest process consumes at a time. It holds a PostgreSQL
 * session advisory lock and appends every batch on that same session, so a process that lost
 * the lock (its session ended) can no longer commit anything: the lock is the fence. Within a
 * term, one batch is in flight at a time and acknowledged only after its commit. A new leader
 * first lets the previous term's unacknowledged deliveries and pull requests expire (ack wait +
 * pull expiry), so JetStream redelivers them, in stream order, before anything newer. A commit
 * whose ack got lost is harmless: JetStream de-duplicates publishes on Nats-Msg-Id = event id,
 * and the store's append is idempotent on event id. Standby processes just wait for the lock.
 */
/**
 * Make PostgreSQL end the leader's session, and with it the leader lock, when the leader can no
 * longer be trusted to: idle inside a transaction for `stallMs` (a frozen or paused process; the
 * open transaction would also hold every reader's horizon back), or silent at the TCP level for
 * about `stallMs` (its host died or was cut off without closing the connection; the OS default
 * would keep such a session, and the lock, for over two hours). A standby then takes over, and
 * the old leader, if it comes back, finds its session gone and cannot commit. Keepalives apply to
 * TCP connections only (not to a Unix socket, where a dead peer is seen at once).
 */
export async function fenceLeaderSession(
  c: pg.Client,
  stallMs: number,
  consumer: string,
): Promise<void> {
  const secs = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));
  // Probes start after a third of the timeout and 4 unanswered ones, a sixth apart, end it.
  // The name shows operators which session leads (pg_stat_activity.application_name).
  await c.query(
    `select set_config('idle_in_transaction_session_timeout', $1, false),
            set_config('tcp_keepalives_idle', $2, false),
            set_config('tcp_keepalives_interval', $3, false),
            set_config('tcp_keepalives_count', '4', false),
            set_config('application_name', $4, false)`,
    [String(stallMs), secs(stallMs / 3), secs(stallMs / 6), leaderSessionName(consumer)],
  );
}

/** `application_name` of the session that leads `consumer` (see fenceLeaderSession). */
export const leaderSessionName = (consumer: string) => `shoal-ingest leader ${consumer}`;

export function createIngest(cfg: IngestConfig, deps: IngestDeps): Ingest {
  const log = deps.logger.child({ component: 'ingest', consumer: cfg.consumer });
  const metrics = ingestMetrics(deps.registry);
  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 4 });
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed'));
  const store = new EventStore(pool);
  let nc: NatsConnection | undefined;
  let closing = false;
  let leading = false;
  let iter: ConsumerMessages | undefined;
  let running: Promise<void> | undefined;
  const timers: NodeJS.Timeout[] = [];
  let wakePause: (() => void) | undefined;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wakePause = () => {
        clearTimeout(t);
        resolve();
      };
    });

  async function acquire(): Promise<pg.Client | undefined> {
    while (!closing) {
      // Client-side keepalives too: a leader whose PostgreSQL vanished finds out and steps down.
      const c = new pg.Client({
        ...pool.options,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      c.on('error', () => undefined); // reported through the query that fails
      try {
        await c.connect();
        const r = await c.query<{ ok: boolean }>(
          'select pg_try_advisory_lock(hashtext($1)) as ok',
          [`shoal-ingest:${cfg.consumer}`],
        );
        if (r.rows[0]?.ok) {
          await fenceLeaderSession(c, cfg.leaderStallTimeout, cfg.consumer);
          return c;
        }
      } catch (err) {
        log.debug({ err }, 'cannot reach PostgreSQL to take the leader lock');
      }
      await c.end().catch(() => undefined);
      await pause(cfg.leaderRetry);
    }
    return undefined;
  }

  async function deadLetter(
    js: JetStreamClient,
    m: JsMsg,
    reason: DeadLetterReason,
    detail: string,
  ) {
    const h = headers();
    h.set(DeadLetterHeaders.reason, reason);
    h.set(DeadLetterHeaders.detail, detail.replace(/[\r\n]+/g, ' ').slice(0, 1000));
    h.set(DeadLetterHeaders.subject, m.subject);
    h.set(DeadLetterHeaders.seq, String(m.seq));
    try {
      // Keyed by the original sequence, so a redelivered bad message is dead-lettered once.
      await js.publish(Subjects.deadLetter(reason), m.data, {
        headers: h,
        msgID: `${Streams.events}:${m.seq}`,
      });
    } catch (err) {
      throw new DeadLetterError(m.subject, m.seq, err);
    }
    metrics.deadLettered.inc({ reason });
    metrics.events.inc({ result: 'dead_lettered' });
    log.warn({ reason, detail, subject: m.subject, seq: m.seq }, 'event dead-lettered');
  }

  /** A batch taken from the queue, validated and encoded, waiting for its turn to commit. */
  interface Batch {
    /** The batch's last delivery: acknowledging it acknowledges the batch. */
    readonly last: JsMsg;
    readonly size: number;
    /** The deliveries appended, in the order of `requests` (one event each). */
    readonly good: { m: JsMsg; id: string }[];
    /** Emptied once they are `append`. */
    readonly requests: PreparedRequest[];
    /** The requests hash-chained (PreparedAppend), once the heads they follow are expected. */
    append?: PreparedAppend;
    readonly t0: number;
  }

  /**
   * Validate and encode a batch (CPU only, no store access), dead-lettering what cannot be
   * appended. Runs while the previous batch commits.
   */
  async function prepare(js: JetStreamClient, msgs: JsMsg[]): Promise<Batch> {
    const t0 = performance.now();
    const good: Batch['good'] = [];
    const requests: PreparedRequest[] = [];
    for (let k = 0; k < msgs.length; k++) {
      // Let the commit in flight read its replies: its round trips wait on this loop otherwise.
      if (k % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      const m = msgs[k]!;
      const msgId = m.headers?.get('Nats-Msg-Id') || undefined;
      const checked = checkMessage({ subject: m.subject, data: m.data, msgId }, cfg);
      if (!checked.ok) {
        await deadLetter(js, m, checked.reason, checked.detail);
        continue;
      }
      // Only the encoded text is kept: the parsed objects can go before the batch commits.
      const e = checked.envelope;
      good.push({ m, id: e.id });
      requests.push(new PreparedRequest(e.stream, [encodeEvent(e)]));
    }
    return { last: msgs.at(-1)!, size: msgs.length, good, requests, t0 };
  }

  /** Append a prepared batch in one transaction on the leader session, then acknowledge it. */
  async function commit(js: JetStreamClient, leader: pg.Client, batch: Batch) {
    while (batch.good.length > 0) {
      try {
        const results = await store.appendMany(batch.append!, { client: leader });
        const appended = results.reduce((n, r) => n + r.appended, 0);
        metrics.events.inc({ result: 'appended' }, appended);
        metrics.events.inc({ result: 'repeat' }, batch.good.length - appended);
        break;
      } catch (err) {
        if (!(err instanceof EventIdConflictError)) throw err;
        // Keep the first event with this id (stored, or first in the batch); drop the last copy.
        const i = batch.good.findLastIndex((g) => g.id === err.eventId);
        const [bad] = batch.good.splice(i, 1);
        batch.append = batch.append!.without(i);
        await deadLetter(js, bad!.m, 'event-id-conflict', err.message);
      }
    }
    // The consumer acks cumulatively (AckPolicy.All): acking the last delivery of the batch
    // acknowledges the whole batch, dead-lettered ones included, with one message.
    batch.last.ack();
    metrics.batchSize.observe(batch.size);
    metrics.batchSeconds.observe((performance.now() - batch.t0) / 1000);
  }

  async function lead(leader: pg.Client): Promise<void> {
    let lost: unknown;
    leader.on('error', (err) => {
      lost = err;
      iter?.stop();
    });
    // A fresh NATS connection per term: no pull request of an earlier term can outlive it.
    const term = await connect({
      servers: cfg.natsUrl,
      name: 'shoal-ingest',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    try {
      const js = jetstream(term);
      const jsm = await jetstreamManager(term);
      await ensureJetStream(jsm, cfg);
      const info = await jsm.consumers.info(Streams.events, cfg.consumer);
      if (info.num_ack_pending > 0 || info.num_waiting > 0) {
        const ms = cfg.ackWait + cfg.pullExpires + 1000;
        log.info(
          { unacknowledged: info.num_ack_pending, waiting: info.num_waiting, ms },
          'leader lock taken; letting the previous term’s deliveries expire so they come back first',
        );
        await pause(ms);
        if (closing) return;
      }
      leading = true;
      metrics.leader.set(1);
      log.info('leading: consuming SHOAL_EVENTS');
      const consumer = await js.consumers.get(Streams.events, cfg.consumer);
      iter = await consumer.consume({ max_messages: cfg.batchSize, expires: cfg.pullExpires });
      // A pump moves deliveries into a queue; the loop below appends whatever has arrived (up
      // to a batch) in one transaction. Big batches under load, no waiting when it is quiet.
      // Batches commit one at a time, in delivery order, each acknowledged after its commit;
      // while one commits, the next is validated and encoded, so the CPU work of ingest
      // overlaps the database's.
      const queue: JsMsg[] = [];
      let waiters: (() => void)[] = [];
      let pumpDone = false;
      const poke = () => {
        const w = waiters;
        waiters = [];
        for (const wake of w) wake();
      };
      const wait = () => new Promise<void>((resolve) => waiters.push(resolve));
      const messages = iter;
      const pump = (async () => {
        try {
          for await (const m of messages) {
            queue.push(m);
            // Wake the loop when there is something to take, or a full batch; not per message.
            if (queue.length === 1 || queue.length === cfg.batchSize) poke();
            // Back-pressure: stop pulling while a full batch is waiting.
            while (queue.length >= cfg.batchSize && !pumpDone) await wait();
          }
        } finally {
          pumpDone = true;
          poke();
        }
      })();
      // What this term's batches will leave as stream heads, so each batch is hashed ahead.
      const heads = new StreamHeads();
      // The commit in flight: settles (never rejects) when it has ended, recording a failure.
      let committing: Promise<void> | undefined;
      let committed = true;
      let failed: { err: unknown } | undefined;
      try {
        while (lost === undefined && failed === undefined) {
          const empty = queue.length === 0;
          // While a commit runs there is time to wait for a full batch.
          const filling = !committed && queue.length < cfg.batchSize && !pumpDone;
          if (empty || filling) {
            if (empty && pumpDone) break;
            await wait();
            continue;
          }
          const batch = await prepare(js, queue.splice(0, cfg.batchSize));
          poke();
          // Hashed ahead while the batch before commits, if the heads it needs are known; else
          // after that commit, which tells them.
          if (!heads.expectsAll(batch.requests)) await committing;
          batch.append = new PreparedAppend(batch.requests, heads);
          // From here the batch is its PreparedAppend (which keeps slices of its own JSON): the
          // separately encoded text can go before it ever reaches the old generation.
          batch.requests.length = 0;
          await committing;
          if (failed !== undefined) break;
          committed = false;
          committing = commit(js, leader, batch).then(
            () => {
              committed = true;
              poke();
            },
            (err: unknown) => {
              failed = { err };
              poke();
            },
          );
        }
      } finally {
        // Let the batch in flight finish (and be acknowledged) before the term's connections go.
        await committing;
        pumpDone = true;
        messages.stop();
        poke();
        await pump.catch((err: unknown) => log.debug({ err }, 'consumer stopped with an error'));
      }
      if (failed !== undefined && lost === undefined) throw failed.err;
      if (lost !== undefined) throw new LeadershipLostError(cfg.consumer, lost);
    } finally {
      leading = false;
      metrics.leader.set(0);
      iter = undefined;
      await term.close().catch(() => undefined);
    }
  }

  async function run(): Promise<void> {
    while (!closing) {
      let leader: pg.Client | undefined;
      try {
        leader = await acquire();
        if (!leader) break;
        await lead(leader);
      } catch (err) {
        if (!closing) log.warn({ err }, 'ingest term ended; competing for the leader lock again');
      } finally {
        await leader?.end().catch(() => undefined);
      }
      if (!closing) await pause(cfg.leaderRetry);
    }
  }

  async function pollLag() {
    if (!nc || nc.isClosed()) return;
    try {
      const info = await (await jetstreamManager(nc)).consumers.info(Streams.events, cfg.consumer);
      metrics.lag.set(info.num_pending + info.num_ack_pending);
    } catch (err) {
      log.debug({ err }, 'cannot read consumer info for the lag metric');
    }
  }

  return {
    name: 'ingest',
    metrics,
    isLeader: () => leading,
    async ready() {
      if (!nc || nc.isClosed()) throw new Error('not connected to NATS');
      await pool.query('select 1');
    },
    async start() {
      await migrateDatabase(pool);
      nc = await connect({
        servers: cfg.natsUrl,
        name: 'shoal-ingest-admin',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      });
      await ensureJetStream(await jetstreamManager(nc), cfg);
      running = run();
      timers.push(setInterval(() => void pollLag(), 5_000));
      if (cfg.sealInterval > 0) {
        timers.push(
          setInterval(() => {
            if (!leading) return;
            seal(store).catch((err: unknown) => log.warn({ err }, 'sealing the hash chain failed'));
          }, cfg.sealInterval),
        );
      }
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const t of timers) clearInterval(t);
      iter?.stop();
      wakePause?.();
      await running;
      await nc?.close().catch(() => undefined);
      await pool.end();
    },
  };
}
