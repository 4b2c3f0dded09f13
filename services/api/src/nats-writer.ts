import type pg from 'pg';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Subjects } from '@shoal/common';
import type { EventEnvelope } from '@shoal/db';
import { UnavailableError, ValidationError } from './errors.js';
import type { EventWriter } from './store-api.js';

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The API's side of the one write path: publish each event to its JetStream subject (with the
 * event id as Nats-Msg-Id), then wait until ingest has appended it, or has dead-lettered it, in
 * which case the caller gets ingest's reason.
 */
export class NatsEventWriter implements EventWriter {
  private readonly pending = new Map<string, Pending>();
  private dlq: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: pg.Pool,
    private readonly timeoutMs = 15_000,
  ) {}

  private watchDeadLetters(): void {
    if (this.dlq) return;
    this.dlq = this.nc.subscribe(Subjects.deadLetterAll, {
      callback: (_err, msg) => {
        let id: string | undefined;
        try {
          id = (JSON.parse(new TextDecoder().decode(msg.data)) as { id?: string }).id;
        } catch {
          return;
        }
        const p = id ? this.pending.get(id) : undefined;
        if (!p) return;
        const reason = msg.headers?.get('Shoal-Dead-Letter-Reason') ?? 'rejected';
        const detail = msg.headers?.get('Shoal-Dead-Letter-Detail') ?? '';
        p.reject(new ValidationError([`ingest refused event ${id} (${reason}): ${detail}`]));
      },
    });
  }

  async submit(events: readonly EventEnvelope[]): Promise<{ id: string; position: number }[]> {
    this.watchDeadLetters();
    const js = jetstream(this.nc);
    let failure: Error | undefined;
    // Handlers are attached before anything is published: a dead letter can arrive at once.
    for (const e of events) {
      new Promise<void>((resolve, reject) => this.pending.set(e.id, { resolve, reject })).catch(
        (err: Error) => (failure ??= err),
      );
    }
    try {
      for (const e of events) {
        const kind = typeof e.data.kind === 'string' ? e.data.kind : e.type;
        await js.publish(Subjects.event(e.metadata.cluster, kind), JSON.stringify(e), {
          msgID: e.id,
        });
      }
    } catch (err) {
      events.forEach((e) => this.pending.delete(e.id));
      throw new UnavailableError(`could not publish to NATS: ${(err as Error).message}`, err);
    }
    const ids = events.map((e) => e.id);
    const deadline = Date.now() + this.timeoutMs;
    try {
      for (let wait = 20; ; wait = Math.min(wait * 2, 250)) {
        if (failure) throw failure;
        const r = await this.pool.query<{ event_id: string; position: string }>(
          'select event_id, position from events where event_id = any($1::uuid[])',
          [ids],
        );
        if (r.rows.length === ids.length) {
          const pos = new Map(r.rows.map((x) => [x.event_id, Number(x.position)]));
          return ids.map((id) => ({ id, position: pos.get(id)! }));
        }
        if (Date.now() > deadline) {
          throw new UnavailableError(
            `published ${ids.length} event(s) but ingest has not stored them within ${this.timeoutMs} ms: is ingest running? ` +
              'They will be stored when it catches up (nothing is lost).',
          );
        }
        await new Promise((res) => setTimeout(res, wait));
      }
    } finally {
      ids.forEach((id) => this.pending.delete(id));
    }
  }

  close(): void {
    this.dlq?.unsubscribe();
  }
}
