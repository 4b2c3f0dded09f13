import type pg from 'pg';
import { type EventEnvelope, type EventStore, newEventId, resourceStream, verify } from '@shoal/db';
import { isNamespaced, validateObject } from '@shoal/model';
import { stateAt, type StateAtTarget } from '@shoal/projector';
import type { Principal } from './auth.js';
import { yamlDiff } from './diff.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { Handler } from './server.js';

/** Publishes events on the one write path (NATS → ingest → store) and waits until stored. */
export interface EventWriter {
  submit(events: readonly EventEnvelope[]): Promise<{ id: string; position: number }[]>;
}

export interface StoreApiDeps {
  readonly store: EventStore;
  readonly pool: pg.Pool;
  readonly writer: EventWriter;
  readonly now?: () => Date;
  /**
   * Per node, what the planned resources would change in the compiled config (the controller's
   * preview); without it, diffs list resources only.
   */
  readonly previewNodes?: (
    changes: readonly {
      cluster: string;
      kind: string;
      namespace: string;
      name: string;
      spec: Record<string, unknown>;
    }[],
  ) => readonly unknown[];
}

interface ResourceRow {
  cluster: string;
  kind: string;
  namespace: string;
  name: string;
  spec: Record<string, unknown>;
  position: string;
  updated_at: Date;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function toResource(r: ResourceRow, version?: number) {
  return {
    cluster: r.cluster,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    version: version ?? 0,
    position: Number(r.position),
    json: JSON.stringify(r.spec),
    updatedAt: r.updated_at.toISOString(),
  };
}

/**
 * The namespace segment of a resource's stream: cluster-scoped kinds use "_" (as the agents do),
 * namespaced kinds default to "default".
 */
export function namespaceFor(kind: string, namespace: string | undefined): string {
  if (!isNamespaced(kind)) return '_';
  return namespace || 'default';
}

/** Fold resource events into state: the same rule the projector applies. */
/**
 * API handlers backed by the event store: reads query the store and its projection; writes
 * become events with the caller's identity and reason, published on the one write path.
 */
export function storeHandlers(deps: StoreApiDeps): Record<string, Handler> {
  const { store, pool, writer } = deps;
  const now = deps.now ?? (() => new Date());

  async function currentVersion(stream: string): Promise<number> {
    const r = await pool.query<{ version: string }>(
      'select version from streams where stream = $1',
      [stream],
    );
    return Number(r.rows[0]?.version ?? 0);
  }

  async function currentSpec(stream: string): Promise<unknown> {
    const events = await store.readStream(stream);
    const last = events.at(-1);
    return last?.type === 'ResourceUpserted' ? (last.data as { spec: unknown }).spec : undefined;
  }

  function meta(caller: Principal, cluster: string, reason: string) {
    return {
      actor: caller.actor,
      source: 'api',
      cluster,
      observedAt: now().toISOString(),
      ...(reason ? { reason } : {}),
    };
  }

  const applyOrDiff =
    (persist: boolean): Handler =>
    async (req, caller) => {
      const manifests = (req.manifests as { file: string; document: number; json: string }[]) ?? [];
      const problems: string[] = [];
      const planned: {
        stream: string;
        cluster: string;
        kind: string;
        namespace: string;
        name: string;
        spec: Record<string, unknown>;
      }[] = [];
      for (const m of manifests) {
        let obj: unknown;
        try {
          obj = JSON.parse(m.json);
        } catch {
          problems.push(`${m.file} (document ${m.document}): not valid JSON`);
          continue;
        }
        const { resource, issues } = validateObject(obj);
        for (const i of issues)
          problems.push(`${m.file} (document ${m.document}) ${i.path.join('.')}: ${i.reason}`);
        if (!resource) continue;
        const r = resource as unknown as {
          kind: string;
          metadata: { name: string; namespace?: string };
        };
        const cluster = str(req.cluster) || 'global';
        const namespace = namespaceFor(r.kind, r.metadata.namespace);
        const key = { cluster, kind: r.kind, namespace, name: r.metadata.name };
        planned.push({
          ...key,
          stream: resourceStream(key),
          spec: resource as unknown as Record<string, unknown>,
        });
      }
      if (problems.length > 0) throw new ValidationError(problems);
      const expected = (req.expectedVersions as Record<string, number> | undefined) ?? {};
      const changes = [];
      const events: EventEnvelope[] = [];
      for (const p of planned) {
        const version = await currentVersion(p.stream);
        const want = expected[`${p.kind}/${p.namespace}/${p.name}`];
        if (want !== undefined && want !== version) {
          throw new ConflictError(
            `${p.kind} ${p.namespace}/${p.name} in ${p.cluster} changed since you read it: you had version ${want}, ` +
              `it is now at version ${version}; run \`shoal history ${p.kind}/${p.namespace}/${p.name}\` to see what changed, then re-apply`,
            { stream: p.stream, expected: want, actual: version },
          );
        }
        const before = await currentSpec(p.stream);
        const diff = yamlDiff(before, p.spec);
        const action = before === undefined ? 'created' : diff === '' ? 'unchanged' : 'configured';
        const id = newEventId();
        if (action !== 'unchanged') {
          events.push({
            id,
            stream: p.stream,
            type: 'ResourceUpserted',
            data: {
              cluster: p.cluster,
              kind: p.kind,
              namespace: p.namespace,
              name: p.name,
              spec: p.spec as never,
            },
            metadata: meta(caller, p.cluster, str(req.reason)),
            schemaVersion: 1,
          });
        }
        changes.push({
          ...p,
          action,
          version: action === 'unchanged' ? version : version + 1,
          eventId: action === 'unchanged' ? '' : id,
          diff,
        });
      }
      const dryRun = !persist || Boolean(req.dryRun);
      if (!dryRun && events.length > 0) await writer.submit(events);
      const nodes = dryRun && deps.previewNodes ? deps.previewNodes(planned) : [];
      return { changes: changes.map(({ spec: _s, stream: _t, ...c }) => c), dryRun, nodes };
    };

  return {
    WhoAmI: async (_req, p) => ({ actor: p.actor, role: p.role, authMethod: p.method }),
    Apply: applyOrDiff(true),
    Diff: applyOrDiff(false),
    async Delete(req, caller) {
      const cluster = str(req.cluster) || 'global';
      const key = {
        cluster,
        kind: str(req.kind),
        namespace: namespaceFor(str(req.kind), str(req.namespace)),
        name: str(req.name),
      };
      const stream = resourceStream(key);
      if ((await currentSpec(stream)) === undefined) {
        throw new NotFoundError(
          `${key.kind} ${key.namespace}/${key.name} does not exist in ${cluster}`,
        );
      }
      const id = newEventId();
      await writer.submit([
        {
          id,
          stream,
          type: 'ResourceDeleted',
          data: key,
          metadata: meta(caller, cluster, str(req.reason)),
          schemaVersion: 1,
        },
      ]);
      return {
        change: {
          ...key,
          action: 'deleted',
          version: (await currentVersion(stream)) || 0,
          eventId: id,
          diff: '',
        },
      };
    },
    async Get(req) {
      const conds = ['lower(r.kind) = lower($1)'];
      const args: unknown[] = [str(req.kind)];
      for (const f of ['name', 'namespace', 'cluster'] as const) {
        if (str(req[f])) {
          args.push(str(req[f]));
          conds.push(`r.${f} = $${args.length}`);
        }
      }
      // The version is the resource stream's version (what `apply` checks a read against): that
      // of the event that last changed the resource.
      const r = await pool.query<ResourceRow & { stream_version: string }>(
        `select r.*, e.stream_version from resources r join events e on e.position = r.position
         where ${conds.join(' and ')} order by r.cluster, r.namespace, r.name limit 5000`,
        args,
      );
      if (str(req.name) && r.rows.length === 0)
        throw new NotFoundError(`no ${str(req.kind)} named ${str(req.name)}`);
      return { resources: r.rows.map((row) => toResource(row, Number(row.stream_version))) };
    },
    async History(req) {
      const cluster = str(req.cluster) || 'global';
      const stream = resourceStream({
        cluster,
        kind: str(req.kind),
        namespace: namespaceFor(str(req.kind), str(req.namespace)),
        name: str(req.name),
      });
      const events = await store.readStream(stream);
      if (events.length === 0) throw new NotFoundError(`no history for ${stream}`);
      let prev: unknown;
      const entries = events.map((e) => {
        const spec = e.type === 'ResourceUpserted' ? (e.data as { spec: unknown }).spec : undefined;
        const m = e.metadata as Record<string, unknown>;
        const entry = {
          version: e.streamVersion,
          position: e.position,
          type: e.type,
          actor: str(m.actor),
          reason: str(m.reason),
          recordedAt: e.recordedAt.toISOString(),
          diff: yamlDiff(prev, spec),
          eventId: e.id,
        };
        prev = spec;
        return entry;
      });
      return { entries };
    },
    async Audit(req) {
      const conds: string[] = [];
      const args: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        args.push(v);
        conds.push(sql.replace('?', `$${args.length}`));
      };
      const since = str(req.since);
      if (since) add('recorded_at >= ?', parseSince(since, now()));
      if (str(req.actor)) add("metadata->>'actor' = ?", str(req.actor));
      if (str(req.cluster)) add("metadata->>'cluster' = ?", str(req.cluster));
      if (str(req.kind)) add("lower(data->>'kind') = lower(?)", str(req.kind));
      args.push(Math.min(Math.max(Number(req.limit) || 200, 1), 5000));
      const r = await pool.query<{
        position: string;
        stream: string;
        type: string;
        metadata: Record<string, unknown>;
        data: Record<string, unknown>;
        recorded_at: Date;
      }>(
        `select position, stream, type, metadata, data, recorded_at from events
         ${conds.length ? `where ${conds.join(' and ')}` : ''} order by position desc limit $${args.length}`,
        args,
      );
      return {
        entries: r.rows.reverse().map((e) => ({
          position: Number(e.position),
          stream: e.stream,
          type: e.type,
          actor: str(e.metadata.actor),
          cluster: str(e.metadata.cluster),
          reason: str(e.metadata.reason),
          recordedAt: e.recorded_at.toISOString(),
          correlationId: str(e.metadata.correlationId),
          summary: str(e.data.kind)
            ? `${str(e.data.kind)} ${str(e.data.namespace)}/${str(e.data.name)}`
            : e.stream,
        })),
      };
    },
    async VerifyAudit() {
      const r = await verify(store);
      if (r.ok)
        return { ok: true, checked: r.events, firstBrokenPosition: 0, detail: `${r.seals} seals` };
      return {
        ok: false,
        checked: 0,
        firstBrokenPosition: r.position,
        detail: `${r.stream ?? ''}: ${r.reason}`,
      };
    },
    async StateAt(req) {
      const at = str(req.at);
      let target: StateAtTarget;
      if (/^\d+$/.test(at)) target = { position: Number(at) };
      else {
        const t = new Date(at);
        if (Number.isNaN(t.getTime()))
          throw new ValidationError([
            `--at "${at}": expected a position (digits) or an ISO timestamp`,
          ]);
        target = { timestamp: t };
      }
      // The projector's nearest snapshot plus the events after it: no replay from position 0.
      const { checkpoint, state } = await stateAt(store, target);
      const cluster = str(req.cluster);
      const records = [...state.values()]
        .filter((x) => !cluster || x.cluster === cluster)
        .sort((a, b) =>
          `${a.cluster}/${a.kind}/${a.namespace}/${a.name}`.localeCompare(
            `${b.cluster}/${b.kind}/${b.namespace}/${b.name}`,
          ),
        );
      const versions = new Map(
        (
          await pool.query<{ position: string; stream_version: string }>(
            'select position, stream_version from events where position = any($1::bigint[])',
            [records.map((x) => x.position)],
          )
        ).rows.map((r) => [Number(r.position), Number(r.stream_version)]),
      );
      return {
        position: checkpoint?.position ?? 0,
        resources: records.map((x) =>
          toResource(
            {
              cluster: x.cluster,
              kind: x.kind,
              namespace: x.namespace,
              name: x.name,
              spec: x.spec,
              position: String(x.position),
              updated_at: new Date(x.updatedAt),
            },
            versions.get(x.position),
          ),
        ),
      };
    },
  };
}

/** `1h`, `30m`, `2d` ago, or an ISO timestamp. */
export function parseSince(v: string, now: Date): Date {
  const m = /^(\d+)([smhd])$/.exec(v);
  if (m) {
    const ms = { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(m[1]) * ms);
  }
  const t = new Date(v);
  if (Number.isNaN(t.getTime()))
    throw new ValidationError([
      `--since "${v}": expected a duration such as 1h or an ISO timestamp`,
    ]);
  return t;
}
