import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Subjects } from '@shoal/common';
import type { HealthSample, HealthSource } from '@shoal/workflows';

/** One node's report, as services/node's stats reporter publishes it (per interval). */
interface ServiceStats {
  requests: number;
  errors5xx: number;
  resets: number;
  latencyBuckets: Record<string, number>;
  latencyCount: number;
}
interface StatsReport {
  cluster: string;
  node: string;
  at: string;
  versions: Record<string, Record<string, ServiceStats>>;
}

interface Agg {
  requests: number;
  errors: number;
  /** Histogram counts per upper bound (ms). */
  buckets: Map<number, number>;
  count: number;
}

/** p99 from cumulative-per-report bucket counts merged across reports (upper bound of the bucket). */
export function p99(buckets: ReadonlyMap<number, number>, count: number): number {
  if (count === 0) return 0;
  const target = Math.ceil(count * 0.99);
  let seen = 0;
  for (const [le, n] of [...buckets].sort(([a], [b]) => a - b)) {
    seen += n;
    if (seen >= target) return le;
  }
  return [...buckets.keys()].reduce((a, b) => Math.max(a, b), 0);
}

/**
 * Health of each (cluster, version), aggregated from node stats on NATS: what the rollout's
 * health gate reads. Errors are 5xx responses and resets.
 */
export class StatsHealth implements HealthSource {
  private readonly agg = new Map<string, Agg>();
  private sub: Subscription | undefined;

  constructor(private readonly nc: NatsConnection) {}

  start(): void {
    this.sub = this.nc.subscribe(Subjects.nodeStatsAll, {
      callback: (_err, msg) => {
        try {
          this.add(msg.json<StatsReport>());
        } catch {
          // a malformed report is ignored; the gate then sees fewer requests
        }
      },
    });
  }

  add(r: StatsReport): void {
    for (const [version, services] of Object.entries(r.versions ?? {})) {
      const key = `${r.cluster}|${version}`;
      const a = this.agg.get(key) ?? { requests: 0, errors: 0, buckets: new Map(), count: 0 };
      for (const s of Object.values(services)) {
        a.requests += s.requests;
        a.errors += s.errors5xx + s.resets;
        // Buckets are cumulative (Prometheus `le`): turn them into per-bucket counts.
        let prev = 0;
        for (const [le, cum] of Object.entries(s.latencyBuckets ?? {}).sort(
          ([x], [y]) => Number(x) - Number(y),
        )) {
          const b = Number(le);
          a.buckets.set(b, (a.buckets.get(b) ?? 0) + (cum - prev));
          prev = cum;
        }
        a.count += s.latencyCount;
      }
      this.agg.set(key, a);
    }
  }

  async sample(cluster: string, version: string): Promise<HealthSample | null> {
    const a = this.agg.get(`${cluster}|${version}`);
    if (!a) return null;
    return { requests: a.requests, errors: a.errors, p99Ms: p99(a.buckets, a.count) };
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}
