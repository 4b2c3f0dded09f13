import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function ingestMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: 'shoal_ingest_events_total',
      help: 'Events taken from JetStream, by result (appended, repeat = already stored, dead_lettered)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'shoal_ingest_dead_lettered_total',
      help: 'Messages sent to the dead-letter stream, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'shoal_ingest_batch_size',
      help: 'Messages per appended batch',
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'shoal_ingest_batch_seconds',
      help: 'Time from taking a batch off the queue to its commit (validation and hashing overlap the commit of the batch before)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'shoal_ingest_lag_events',
      help: 'Events in SHOAL_EVENTS not yet appended (consumer pending + unacknowledged)',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'shoal_ingest_leader',
      help: '1 while this process holds the ingest leader lock',
      registers: [registry],
    }),
  };
}
export type IngestMetrics = ReturnType<typeof ingestMetrics>;
