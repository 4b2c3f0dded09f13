import type pg from 'pg';
import type { Logger } from '@shoal/common';
import { listenForAppends, newEventId, readHorizon, type EventEnvelope } from '@shoal/db';
import { InMemoryTokenRegistry, mintToken, type TokenRecord, type TokenRegistry } from './auth.js';
import type { Handler } from './server.js';
import type { EventWriter } from './store-api.js';
import { NotFoundError, ValidationError } from './errors.js';
import { isRole } from './rbac.js';

/** Stream of one API token's events. */
export const tokenStream = (id: string) => `token/${id}`;

/**
 * API tokens are event-sourced like everything else: `ApiTokenIssued` (with the secret's hash,
 * never the secret) and `ApiTokenRevoked` on stream `token/<id>`. This registry is their
 * projection, kept in memory. It reads again when PostgreSQL notifies that events were committed
 * (a revocation takes effect on every API replica at once), with a slow poll as a safety net.
 * Reads follow the store's safe order (transaction id, position) below the safe read horizon
 * (`readHorizon`), so an event committed late by a concurrent writer is never skipped.
 */
export class EventTokenRegistry implements TokenRegistry {
  private readonly mem = new InMemoryTokenRegistry();
  private after = { transactionId: '0', position: 0 };
  private timer: NodeJS.Timeout | undefined;
  private listening: { close(): Promise<void> } | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly safetyPollMs = 30_000,
  ) {}

  get(id: string): TokenRecord | undefined {
    return this.mem.get(id);
  }

  list(): TokenRecord[] {
    return this.mem.list();
  }

  /** Read what is new; concurrent calls share one read (and one more if asked meanwhile). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.read();
        } while (this.again);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private async read(): Promise<void> {
    const r = await this.pool.query<{
      transaction_id: string;
      position: string;
      type: string;
      data: Record<string, unknown>;
      recorded_at: Date;
    }>(
      `select transaction_id::text as transaction_id, position, type, data, recorded_at from events
       where (transaction_id, position) > ($1::xid8, $2::bigint)
         and transaction_id < $3::xid8
         and type in ('ApiTokenIssued', 'ApiTokenRevoked')
       order by transaction_id, position`,
      [this.after.transactionId, this.after.position, await readHorizon(this.pool)],
    );
    for (const e of r.rows) {
      this.after = { transactionId: e.transaction_id, position: Number(e.position) };
      const d = e.data as Record<string, string>;
      if (e.type === 'ApiTokenIssued' && d.id && d.secretSha256 && isRole(d.role ?? '')) {
        this.mem.put({
          id: d.id,
          name: d.name ?? d.id,
          role: d.role as TokenRecord['role'],
          secretSha256: d.secretSha256,
          issuedBy: d.issuedBy ?? '',
          issuedAt: e.recorded_at.toISOString(),
        });
      } else if (e.type === 'ApiTokenRevoked' && d.id) {
        this.mem.revoke(d.id, e.recorded_at.toISOString());
      }
    }
  }

  async start(): Promise<void> {
    await this.refresh();
    const refresh = () =>
      this.refresh().catch((err: unknown) =>
        this.logger.warn({ err }, 'token registry refresh failed'),
      );
    this.listening = listenForAppends(this.pool, () => void refresh(), { logger: this.logger });
    this.timer = setInterval(() => void refresh(), this.safetyPollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.listening?.close();
  }
}

export function tokenIssuedEvent(
  record: TokenRecord,
  actor: string,
  reason: string,
): EventEnvelope {
  return {
    id: newEventId(),
    stream: tokenStream(record.id),
    type: 'ApiTokenIssued',
    data: {
      id: record.id,
      name: record.name,
      role: record.role,
      secretSha256: record.secretSha256,
      issuedBy: actor,
    },
    metadata: {
      actor,
      source: 'api',
      cluster: 'global',
      observedAt: new Date().toISOString(),
      ...(reason ? { reason } : {}),
    },
    schemaVersion: 1,
  };
}

/** IssueToken / RevokeToken: admin-only (see rbac.ts), recorded as events with the caller. */
export function tokenHandlers(
  registry: EventTokenRegistry,
  writer: EventWriter,
): Record<string, Handler> {
  return {
    async IssueToken(req, caller) {
      const name = String(req.name ?? '');
      const role = String(req.role ?? '');
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
        throw new ValidationError([`token name "${name}": use lowercase letters, digits and "-"`]);
      }
      if (!isRole(role))
        throw new ValidationError([`role "${role}": expected viewer, operator, auditor or admin`]);
      const { token, record } = mintToken(name, role, caller.actor, new Date());
      await writer.submit([tokenIssuedEvent(record, caller.actor, String(req.reason ?? ''))]);
      await registry.refresh();
      return { id: record.id, token, role };
    },
    async RevokeToken(req, caller) {
      const id = String(req.id ?? '');
      if (!registry.get(id)) throw new NotFoundError(`no API token with id ${id}`);
      await writer.submit([
        {
          id: newEventId(),
          stream: tokenStream(id),
          type: 'ApiTokenRevoked',
          data: { id },
          metadata: {
            actor: caller.actor,
            source: 'api',
            cluster: 'global',
            observedAt: new Date().toISOString(),
          },
          schemaVersion: 1,
        },
      ]);
      await registry.refresh();
      return {};
    },
  };
}
