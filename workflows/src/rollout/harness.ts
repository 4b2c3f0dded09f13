/**
 * Test and benchmark harness: a SimulatedFleet served over a NATS server, the rollout events
 * stream on it, a rollout worker (in this process, or none when the test runs workers as child
 * processes) and a Temporal client. Every name (bucket, subjects, task queue) is unique per
 * harness, so harnesses run side by side on one NATS and one Temporal server.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { Streams, Subjects } from '@shoal/common';
import { natsRolloutDeps, type RolloutNatsNames } from './adapters/nats.js';
import { startRollout, type RolloutHandle } from './client.js';
import type { RolloutInput } from './definitions.js';
import type { ShoalEvent } from './events.js';
import { SimulatedFleet, type SimulatedClusterSpec } from './simulated.js';
import { createRolloutWorker } from './worker.js';

export interface HarnessOptions {
  readonly natsUrl: string;
  readonly temporalAddress: string;
  readonly namespace: string;
  readonly fleet: readonly SimulatedClusterSpec[];
  readonly bundle?: WorkflowBundle;
  /** false: no worker in this process (the test starts its own). Default true. */
  readonly worker?: boolean;
  readonly ackDelayMs?: number;
}

export interface Harness {
  readonly id: string;
  readonly names: RolloutNatsNames;
  readonly taskQueue: string;
  readonly fleet: SimulatedFleet;
  readonly client: Client;
  readonly nc: NatsConnection;
  start(input: RolloutInput): Promise<RolloutHandle>;
  /** The rollout events published so far for `rolloutId`, in order. */
  events(rolloutId: string): Promise<ShoalEvent[]>;
  /** Environment for a worker child process (workflows/src/rollout/main.ts). */
  workerEnv(): Record<string, string>;
  close(): Promise<void>;
}

/** Create the events stream on a NATS server of the test's own, as ingest would. */
export async function ensureEventsStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(Streams.events);
  } catch {
    await jsm.streams.add({ name: Streams.events, subjects: [Subjects.eventsAll] });
  }
}

export async function startHarness(o: HarnessOptions): Promise<Harness> {
  const id = randomBytes(4).toString('hex');
  const names: RolloutNatsNames = {
    assignmentsBucket: `assign-${id}`,
    convergenceSubject: `sim.${id}.convergence`,
    healthSubject: `sim.${id}.health`,
    fleetSubject: `sim.${id}.fleet`,
    eventsCluster: `rollout-${id}`,
  };
  const taskQueue = `rollout-${id}`;
  const nc = await connect({ servers: o.natsUrl });
  await ensureEventsStream(nc);
  const fleet = new SimulatedFleet(o.fleet, { ackDelayMs: o.ackDelayMs ?? 20 });
  await fleet.serve(nc, names);
  const clientConn = await Connection.connect({ address: o.temporalAddress });
  const client = new Client({ connection: clientConn, namespace: o.namespace });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let workerConn: NativeConnection | undefined;
  let workerNc: NatsConnection | undefined;
  if (o.worker ?? true) {
    workerConn = await NativeConnection.connect({ address: o.temporalAddress });
    workerNc = await connect({ servers: o.natsUrl });
    worker = await createRolloutWorker({
      connection: workerConn,
      namespace: o.namespace,
      taskQueue,
      deps: await natsRolloutDeps(workerNc, names),
      bundle: o.bundle,
    });
    running = worker.run();
  }
  const subject = Subjects.event(names.eventsCluster, 'rollout');
  return {
    id,
    names,
    taskQueue,
    fleet,
    client,
    nc,
    start: (input) => startRollout(client, input, taskQueue),
    async events(rolloutId) {
      const js = jetstream(nc);
      const c = await js.consumers.get(Streams.events, { filter_subjects: subject });
      const out: ShoalEvent[] = [];
      for (;;) {
        const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
        let n = 0;
        for await (const m of batch) {
          n++;
          const e = m.json<ShoalEvent>();
          if (e.metadata.correlationId === rolloutId) out.push(e);
          if (m.info.pending === 0) break;
        }
        if (n === 0 || (await c.info(true)).num_pending === 0) break;
      }
      return out;
    },
    workerEnv: () => ({
      TEMPORAL_ADDRESS: o.temporalAddress,
      TEMPORAL_NAMESPACE: o.namespace,
      NATS_URL: o.natsUrl,
      ROLLOUT_TASK_QUEUE: taskQueue,
      ROLLOUT_ASSIGNMENTS_BUCKET: names.assignmentsBucket,
      ROLLOUT_CONVERGENCE_SUBJECT: names.convergenceSubject,
      ROLLOUT_HEALTH_SUBJECT: names.healthSubject,
      ROLLOUT_FLEET_SUBJECT: names.fleetSubject,
      ROLLOUT_EVENTS_CLUSTER: names.eventsCluster,
    }),
    async close() {
      if (worker) {
        worker.shutdown();
        await running;
      }
      await workerConn?.close();
      await workerNc?.close();
      fleet.close();
      await clientConn.close();
      await nc.close();
    },
  };
}
