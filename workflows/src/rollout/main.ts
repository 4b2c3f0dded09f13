/**
 * The rollout worker process: `node --import tsx workflows/src/rollout/main.ts` (see README).
 * Wiring only: config, NATS adapters, Temporal worker, run until a signal.
 */
import { connect } from '@nats-io/transport-node';
import { NativeConnection } from '@temporalio/worker';
import {
  TaskQueues,
  createLogger,
  loadConfig,
  runUntilSignal,
  setting,
  type Runner,
} from '@shoal/common';
import { RolloutNatsDefaults, natsRolloutDeps } from './adapters/nats.js';
import { createRolloutWorker } from './worker.js';

const d = RolloutNatsDefaults;
const spec = {
  temporalAddress: setting.hostPort('Temporal frontend', {
    env: 'TEMPORAL_ADDRESS',
    flag: 'temporal-address',
    default: '127.0.0.1:7233',
  }),
  namespace: setting.string('Temporal namespace', {
    env: 'TEMPORAL_NAMESPACE',
    flag: 'temporal-namespace',
    default: 'default',
  }),
  natsUrl: setting.url('NATS server', ['nats:', 'tls:'], {
    env: 'NATS_URL',
    flag: 'nats-url',
    default: 'nats://127.0.0.1:4222',
  }),
  taskQueue: setting.string('Temporal task queue of rollouts', {
    env: 'ROLLOUT_TASK_QUEUE',
    flag: 'task-queue',
    default: TaskQueues.rollouts,
  }),
  assignmentsBucket: setting.string('NATS KV bucket of version assignments (key = cluster)', {
    env: 'ROLLOUT_ASSIGNMENTS_BUCKET',
    default: d.assignmentsBucket,
  }),
  convergenceSubject: setting.string('NATS subject of the convergence query', {
    env: 'ROLLOUT_CONVERGENCE_SUBJECT',
    default: d.convergenceSubject,
  }),
  healthSubject: setting.string('NATS subject of the health query', {
    env: 'ROLLOUT_HEALTH_SUBJECT',
    default: d.healthSubject,
  }),
  fleetSubject: setting.string('NATS subject of the fleet query', {
    env: 'ROLLOUT_FLEET_SUBJECT',
    default: d.fleetSubject,
  }),
  eventsCluster: setting.string('cluster token of the rollout event subject', {
    env: 'ROLLOUT_EVENTS_CLUSTER',
    default: d.eventsCluster,
  }),
  workflowBundle: setting.optionalString(
    'path of a prebuilt workflow bundle (tests); unset: bundle at start',
    { env: 'ROLLOUT_WORKFLOW_BUNDLE' },
  ),
  stickyTimeoutMs: setting.duration('sticky queue schedule-to-start timeout', {
    env: 'ROLLOUT_STICKY_TIMEOUT',
    default: 5_000,
  }),
  logLevel: setting.string('log level', { env: 'LOG_LEVEL', default: 'info' }),
};

const cfg = loadConfig('rollout-worker', spec);
const logger = createLogger({ service: 'rollout-worker', level: cfg.logLevel });

let stop: (() => Promise<void>) | undefined;
const runner: Runner = {
  name: 'rollout-worker',
  async start() {
    const nc = await connect({ servers: cfg.natsUrl, name: 'shoal-rollout-worker' });
    const connection = await NativeConnection.connect({ address: cfg.temporalAddress });
    const worker = await createRolloutWorker({
      connection,
      namespace: cfg.namespace,
      taskQueue: cfg.taskQueue,
      deps: await natsRolloutDeps(nc, cfg),
      logger,
      ...(cfg.workflowBundle ? { bundle: { codePath: cfg.workflowBundle } } : {}),
      stickyQueueScheduleToStartTimeoutMs: cfg.stickyTimeoutMs,
    });
    const running = worker.run();
    running.catch((err: unknown) => {
      logger.fatal({ err }, 'rollout worker failed');
      process.exit(1);
    });
    stop = async () => {
      worker.shutdown();
      await running;
      await connection.close();
      await nc.close();
    };
    logger.info({ taskQueue: cfg.taskQueue, pid: process.pid }, 'rollout worker running');
  },
  async close() {
    await stop?.();
  },
};

await runUntilSignal([runner], { logger });
