import type { Authenticator } from '@nats-io/transport-node';
import type { Logger, Runner } from '@shoal/common';
import { applyToLedger, diffDelete, diffListing, diffOne, type Change } from './core/diff.js';
import {
  changeToEvent,
  clusterEvent,
  EventTypes,
  type EventContext,
  type OutgoingEvent,
} from './core/events.js';
import { resourceKey, type Ledger } from './core/resource.js';
import { Outbox, type OutboxInput } from './outbox.js';
import { Publisher } from './publisher.js';
import { ledgerFrom, type ReportedStateSource } from './reported-state.js';
import type { Source, SourceSink } from './sources/source.js';

export interface AgentOptions {
  readonly cluster: string;
  readonly bufferDir: string;
  readonly natsUrl: string;
  readonly authenticator?: Authenticator;
  readonly inboxPrefix: string;
  readonly heartbeatMs: number;
  readonly logger: Logger;
  readonly publishWindow?: number;
  readonly ackTimeoutMs?: number;
  readonly reportedState?: ReportedStateSource;
  readonly now?: () => Date;
}

export interface AgentStats {
  readonly connected: boolean;
  /** Events buffered on disk and not yet acknowledged by JetStream. */
  readonly pending: number;
  /** Events written to the buffer since this process started. */
  readonly buffered: number;
  /** Events acknowledged by JetStream since this process started. */
  readonly published: number;
  /** Resources the agent believes the store holds for this cluster. */
  readonly resources: number;
  readonly lastPublishError?: string;
}

interface Job {
  readonly compute: (ledger: Ledger) => Change[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const SNAPSHOT_EVERY = 10_000;

/**
 * One agent per cluster or edge site. Sources report what exists; the agent diffs it against its
 * ledger (what it last reported), turns differences into events, makes them durable in the
 * outbox and lets the publisher drain the outbox into JetStream. Changes are processed strictly
 * in arrival order, in batches that share one fsync.
 */
export class Agent implements Runner {
  readonly name: string;
  private outbox: Outbox | undefined;
  private publisher: Publisher | undefined;
  private ledger: Ledger = new Map();
  private readonly queue: Job[] = [];
  private working = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private snapshotAt = 0;
  private buffered = 0;
  private failed: unknown;
  private readonly log: Logger;
  private readonly ctx: EventContext;

  constructor(
    private readonly opts: AgentOptions,
    private readonly sources: readonly Source[],
  ) {
    this.name = `agent-${opts.cluster}`;
    this.log = opts.logger.child({ component: 'agent', cluster: opts.cluster });
    this.ctx = {
      cluster: opts.cluster,
      actor: `agent/${opts.cluster}`,
      source: `agent/${sources.map((s) => s.name).join('+')}`,
      now: opts.now ?? (() => new Date()),
    };
  }

  readonly sink: SourceSink = {
    replace: (scope, items) => this.enqueue((ledger) => diffListing(ledger, items, scope)),
    upsert: (r) => this.enqueue((ledger) => [diffOne(ledger, r)].filter((c) => c !== undefined)),
    delete: (ref) =>
      this.enqueue((ledger) => [diffDelete(ledger, ref)].filter((c) => c !== undefined)),
  };

  async start(): Promise<void> {
    const { outbox, ledger } = await Outbox.open(this.opts.bufferDir);
    this.outbox = outbox;
    this.ledger = ledger;
    this.snapshotAt = outbox.lastSeq;
    if (outbox.lastSeq === 0 && this.opts.reportedState) {
      try {
        this.ledger = ledgerFrom(await this.opts.reportedState.load(this.opts.cluster));
        this.log.info(
          { resources: this.ledger.size },
          'new buffer folder: ledger seeded from the store',
        );
      } catch (err) {
        this.log.warn({ err }, 'could not read what the store holds; resync starts from empty');
      }
    }
    this.log.info({ resources: this.ledger.size, pending: outbox.pendingCount }, 'buffer opened');
    this.publisher = new Publisher(outbox, {
      cluster: this.opts.cluster,
      servers: this.opts.natsUrl,
      inboxPrefix: this.opts.inboxPrefix,
      logger: this.opts.logger,
      ...(this.opts.authenticator ? { authenticator: this.opts.authenticator } : {}),
      ...(this.opts.publishWindow ? { window: this.opts.publishWindow } : {}),
      ...(this.opts.ackTimeoutMs ? { ackTimeoutMs: this.opts.ackTimeoutMs } : {}),
    });
    await this.appendEvents([
      clusterEvent(this.ctx, EventTypes.clusterRegistered, {
        sources: this.sources.map((s) => s.name),
      }),
    ]);
    this.publisher.start();
    for (const s of this.sources) await s.start(this.sink);
    this.heartbeat = setInterval(() => void this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    this.log.info({ resources: this.ledger.size }, 'agent started');
  }

  stats(): AgentStats {
    return {
      connected: this.publisher?.isConnected ?? false,
      pending: this.outbox?.pendingCount ?? 0,
      buffered: this.buffered,
      published: this.publisher?.published ?? 0,
      resources: this.ledger.size,
      ...(this.publisher?.lastError ? { lastPublishError: this.publisher.lastError.message } : {}),
    };
  }

  /** True when the agent believes it reported `key` (kind/namespace/name) with this hash. */
  reported(key: string): string | undefined {
    return this.ledger.get(key)?.hash;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const s of [...this.sources].reverse()) await s.close();
    await this.idle();
    if (this.outbox && this.failed === undefined && this.outbox.lastSeq > this.snapshotAt) {
      await this.outbox.saveLedger(this.ledger);
    }
    await this.publisher?.close();
    await this.outbox?.close();
  }

  private async beat(): Promise<void> {
    const ok = await this.publisher?.publishDirect(
      clusterEvent(this.ctx, EventTypes.clusterHeartbeat, {
        pending: this.outbox?.pendingCount ?? 0,
        resources: this.ledger.size,
      }),
    );
    if (!ok) this.log.debug('heartbeat skipped: not connected');
  }

  private enqueue(compute: Job['compute']): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ compute, resolve, reject });
      void this.work();
    });
  }

  private async idle(): Promise<void> {
    while (this.working || this.queue.length > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /** Drain the queue: diff each job in order, then one append (one fsync) for the whole batch. */
  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (this.queue.length > 0) {
        const jobs = this.queue.splice(0, this.queue.length);
        if (this.failed !== undefined) {
          for (const j of jobs) j.reject(this.failed);
          continue;
        }
        const events: OutboxInput[] = [];
        for (const job of jobs) {
          for (const change of job.compute(this.ledger)) {
            applyToLedger(this.ledger, change);
            events.push(this.toInput(changeToEvent(this.ctx, change), change));
          }
        }
        try {
          await this.appendEvents(events);
          for (const j of jobs) j.resolve();
        } catch (err) {
          // The in-memory ledger is now ahead of the disk: refuse further work; a restart
          // rebuilds the ledger from the buffer and resyncs.
          this.failed = err;
          this.log.fatal(
            { err },
            'cannot write the buffer; restart the agent once the disk is fixed',
          );
          for (const j of jobs) j.reject(err);
        }
      }
    } finally {
      this.working = false;
    }
  }

  private toInput(ev: OutgoingEvent, change: Change): OutboxInput {
    const key = resourceKey(change.op === 'upsert' ? change.resource : change.ref);
    return {
      ...ev,
      ledger: { key, entry: change.op === 'upsert' ? (this.ledger.get(key) ?? null) : null },
    };
  }

  private async appendEvents(events: readonly OutboxInput[]): Promise<void> {
    if (events.length === 0 || !this.outbox) return;
    await this.outbox.append(events);
    this.buffered += events.length;
    this.publisher?.notify();
    if (this.outbox.lastSeq - this.snapshotAt >= SNAPSHOT_EVERY) {
      await this.outbox.saveLedger(this.ledger);
      this.snapshotAt = this.outbox.lastSeq;
    }
  }
}
