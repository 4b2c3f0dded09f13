import pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger, Runner } from '@shoal/common';
import { EventStore, migrateDatabase, subscribe, type Subscription } from '@shoal/db';
import type { ProjectorConfig } from './config.js';
import type { ResourceRecord } from './evolve.js';
import { ResourceProjection } from './projection.js';
import { stateAt, type StateAt, type StateAtTarget } from './state-at.js';

export interface ProjectorDeps {
  readonly logger: Logger;
  readonly registry: Registry;
}

export interface Projector extends Runner {
  /** The current desired state (read-only view; replaced on rebuild). */
  state(): ReadonlyMap<string, ResourceRecord>;
  rebuild(): Promise<{ events: number; resources: number }>;
  stateAt(target: StateAtTarget): Promise<StateAt>;
  ready(): Promise<void>;
}

/**
 * Event store → desired mesh state. Follows the log with a LISTEN/NOTIFY subscription from its
 * checkpoint, folding each batch and committing rows + checkpoint + snapshots together.
 */
export function createProjector(cfg: ProjectorConfig, deps: ProjectorDeps): Projector {
  const log = deps.logger.child({ component: 'projector' });
  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 4 });
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed'));
  const store = new EventStore(pool);
  const projection = new ResourceProjection(store, {
    snapshotEvery: cfg.snapshotEvery,
    pageSize: cfg.batchSize,
  });
  const folded = new Counter({
    name: 'shoal_projector_events_total',
    help: 'Events folded into the desired state',
    registers: [deps.registry],
  });
  const position = new Gauge({
    name: 'shoal_projector_checkpoint_position',
    help: 'Global position of the last folded event',
    registers: [deps.registry],
  });
  const resources = new Gauge({
    name: 'shoal_projector_resources',
    help: 'Resources in the desired state',
    registers: [deps.registry],
  });
  let sub: Subscription | undefined;

  const follow = () => {
    sub = subscribe(store, {
      from: projection.checkpoint,
      logger: log,
      batchSize: cfg.batchSize,
      pollIntervalMs: cfg.pollInterval,
      handler: async (events, checkpoint) => {
        await projection.apply(events, checkpoint);
        folded.inc(events.length);
        position.set(checkpoint.position);
        resources.set(projection.state.size);
      },
    });
  };

  const rebuild = async () => {
    await sub?.close();
    const t0 = performance.now();
    const r = await projection.rebuild();
    log.info(
      { ...r, ms: Math.round(performance.now() - t0) },
      'projection rebuilt from position 0',
    );
    position.set(projection.checkpoint.position);
    resources.set(r.resources);
    if (sub) follow();
    return r;
  };

  return {
    name: 'projector',
    state: () => projection.state,
    rebuild,
    stateAt: (target) => stateAt(store, target),
    async ready() {
      await pool.query('select 1');
    },
    async start() {
      await migrateDatabase(pool);
      if (cfg.rebuild) await projection.rebuild();
      else await projection.load();
      resources.set(projection.state.size);
      follow();
    },
    async close() {
      await sub?.close();
      sub = undefined;
      await pool.end();
    },
  };
}
