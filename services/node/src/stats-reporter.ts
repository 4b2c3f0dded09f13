import { Subjects } from '@shoal/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Actor, ActorContext } from './actors/index.js';
import type { DataplaneStats } from './stats.js';

export type StatsMsg = { readonly kind: 'tick' };

/** Publishes the per-interval stats aggregate on NATS (`Subjects.nodeStats`) when configured. */
export function statsReporterActor(opts: {
  natsUrl?: string;
  cluster: string;
  node: string;
  intervalMs: number;
  stats: DataplaneStats;
}) {
  return async (ctx: ActorContext<StatsMsg>): Promise<Actor<StatsMsg>> => {
    const nc: NatsConnection | undefined = opts.natsUrl
      ? await connect({
          servers: opts.natsUrl,
          name: `shoal-node-${opts.cluster}-${opts.node}`,
          maxReconnectAttempts: -1,
        })
      : undefined;
    const timer = setInterval(() => ctx.self.tell({ kind: 'tick' }), opts.intervalMs);
    timer.unref();
    const subject = Subjects.nodeStats(opts.cluster, opts.node);
    return {
      receive() {
        const report = opts.stats.drain(opts.cluster, opts.node);
        if (nc && Object.keys(report.versions).length > 0)
          nc.publish(subject, JSON.stringify(report));
      },
      async stop() {
        clearInterval(timer);
        await nc?.drain().catch(() => undefined);
      },
    };
  };
}
