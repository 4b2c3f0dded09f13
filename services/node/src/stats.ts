import { Counter, Histogram, type Registry } from 'prom-client';

export type Direction = 'inbound' | 'outbound' | 'waypoint' | 'gateway';
export type ConnResult = 'ok' | 'denied' | 'error' | 'reset';

const BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
/** The buckets' keys in ServiceStats.latencyBuckets, spelled once (this runs per request). */
const BUCKET_KEYS = BUCKETS_MS.map(String);

export interface ServiceStats {
  requests: number;
  errors5xx: number;
  resets: number;
  denied: number;
  /** Cumulative counts per bucket upper bound (ms), like Prometheus `le`. */
  latencyBuckets: Record<string, number>;
  latencyCount: number;
  latencySumMs: number;
}

/** What the stats reporter publishes: per config version and service, since the last report. */
export interface StatsReport {
  readonly cluster: string;
  readonly node: string;
  readonly at: string;
  readonly versions: Record<string, Record<string, ServiceStats>>;
}

/**
 * The data plane's metrics sink. Counters are append-only, so the hot path (every connection and
 * request) writes here directly instead of sending a message per request to the stats actor;
 * the stats reporter reads and resets the per-interval aggregate.
 */
export class DataplaneStats {
  private readonly conns: Counter<'version' | 'direction' | 'service' | 'result'>;
  private readonly reqs: Counter<'version' | 'service' | 'code' | 'proxy'>;
  private readonly hist: Histogram<'version' | 'direction' | 'service'>;
  private agg = new Map<string, Map<string, ServiceStats>>();
  private version = 'none';

  constructor(registry: Registry) {
    this.conns = new Counter({
      name: 'shoal_dataplane_connections_total',
      help: 'Tunnelled connections by direction, service and result',
      labelNames: ['version', 'direction', 'service', 'result'],
      registers: [registry],
    });
    this.reqs = new Counter({
      name: 'shoal_waypoint_requests_total',
      help: 'HTTP requests through waypoints and gateways by service and status code',
      labelNames: ['version', 'service', 'code', 'proxy'],
      registers: [registry],
    });
    this.hist = new Histogram({
      name: 'shoal_dataplane_latency_ms',
      help: 'Tunnel set-up time (L4) or request duration (L7), milliseconds',
      labelNames: ['version', 'direction', 'service'],
      buckets: BUCKETS_MS,
      registers: [registry],
    });
  }

  /** Set by the xDS client when a config version is applied. */
  setVersion(v: string): void {
    this.version = v;
  }

  connection(direction: Direction, service: string, result: ConnResult): void {
    this.conns.inc({ version: this.version, direction, service, result });
    const s = this.entry(service);
    // L7 proxies count requests (request()), not connections.
    if (direction !== 'waypoint' && direction !== 'gateway') s.requests++;
    if (result === 'error') s.errors5xx++;
    if (result === 'reset') s.resets++;
    if (result === 'denied') s.denied++;
  }

  request(
    service: string,
    status: number,
    ms: number,
    direction: 'waypoint' | 'gateway' = 'waypoint',
  ): void {
    this.reqs.inc({ version: this.version, service, code: String(status), proxy: direction });
    const s = this.entry(service);
    s.requests++;
    if (status >= 500) s.errors5xx++;
    this.latency(direction, service, ms, s);
  }

  latency(direction: Direction, service: string, ms: number, s = this.entry(service)): void {
    this.hist.observe({ version: this.version, direction, service }, ms);
    s.latencyCount++;
    s.latencySumMs += ms;
    for (let i = 0; i < BUCKETS_MS.length; i++) {
      if (ms > BUCKETS_MS[i]!) continue;
      const k = BUCKET_KEYS[i]!;
      s.latencyBuckets[k] = (s.latencyBuckets[k] ?? 0) + 1;
    }
  }

  /** The aggregate since the last call, then reset. */
  drain(cluster: string, node: string): StatsReport {
    const versions: StatsReport['versions'] = {};
    for (const [v, m] of this.agg) versions[v] = Object.fromEntries(m);
    this.agg = new Map();
    return { cluster, node, at: new Date().toISOString(), versions };
  }

  private entry(service: string): ServiceStats {
    let m = this.agg.get(this.version);
    if (!m) this.agg.set(this.version, (m = new Map()));
    let s = m.get(service);
    if (!s) {
      s = {
        requests: 0,
        errors5xx: 0,
        resets: 0,
        denied: 0,
        latencyBuckets: {},
        latencyCount: 0,
        latencySumMs: 0,
      };
      m.set(service, s);
    }
    return s;
  }
}
