/**
 * `npm start`: bring up the local stack (NATS, PostgreSQL, Temporal: reused when running, else
 * started under the data folder on loopback) and the Shoal control plane, print where everything
 * listens, and run until Ctrl-C; then stop what was started here, and nothing else.
 */
import {
  ConfigError,
  RunnerGroup,
  createLogger,
  exitOnSignal,
  helpText,
  loadConfig,
  setting,
  wantsHelp,
} from '@shoal/common';
import { Runtime } from '@temporalio/worker';
import { resolve } from 'node:path';
import { controlPlane, controlPlaneSettings, temporalLogger } from './control-plane.js';
import { demoBanner } from './demo/banner.js';
import { demoFleet } from './demo/fleet.js';
import { SIMULATED_LIMITS, simulatedFleet, type SimulatedFleet } from './demo/simulated.js';
import { stackRunner, stackSettings, type Stack } from './stack/index.js';

const spec = {
  ...stackSettings,
  ...controlPlaneSettings,
  demo: setting.bool('start the demo fleet after the control plane', {
    flag: 'demo',
    default: true,
  }),
  clusters: setting.int(
    'clusters in the demo fleet: the first two run node worker processes, the rest are simulated',
    { flag: 'clusters', min: 2, max: 2 + SIMULATED_LIMITS.clusters, default: 2 },
  ),
  nodes: setting.int('nodes per simulated cluster (with --clusters above 2)', {
    flag: 'nodes',
    min: 1,
    max: SIMULATED_LIMITS.nodes,
    default: 2,
  }),
  logLevel: setting.oneOf('log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
    env: 'LOG_LEVEL',
    flag: 'log-level',
    // The banner is what a user reads first; services log warnings and errors only by default.
    default: 'warn',
  }),
};

if (wantsHelp()) {
  process.stdout.write(helpText('shoal (npm start)', 'npm start -- [options]', spec));
  process.exit(0);
}

let config;
try {
  config = loadConfig('npm start', spec);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
if (!config.demo && config.clusters > 2) {
  process.stderr.write(
    'npm start: --clusters adds simulated clusters to the demo fleet; drop --no-demo to use it\n',
  );
  process.exit(2);
}

const logger = createLogger({ service: 'shoal', level: config.logLevel });
// A bug in one request handler must not take the control plane down: log it loudly instead.
process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
// Shoal stops its workers itself, in order, on SIGINT/SIGTERM: the SDK must not do it too.
Runtime.install({ logger: temporalLogger(logger), shutdownSignals: [] });
const group = new RunnerGroup(logger);
exitOnSignal(logger, () => group.close(), { timeoutMs: 45_000 });

const t0 = Date.now();
let stack: Stack | undefined;
try {
  await group.start([stackRunner(config, logger, (s) => (stack = s))]);
  const cp = controlPlane({ ...config, stack: stack!, logger, dataDir: config.dataDir });
  await group.start(cp.runners);
  let demoLines: string[] = [];
  if (config.demo) {
    process.stdout.write(
      'Control plane up; starting the demo fleet and waiting for its first rollout ...\n',
    );
    const fleetOpts = {
      dataDir: resolve(config.dataDir),
      natsUrl: stack!.nats.url,
      trustDomain: config.trustDomain,
      logger,
      handles: cp.handles,
    };
    let sim: SimulatedFleet | undefined;
    if (config.clusters > 2) {
      // Before the demo: its wait for the first rollout then covers the simulated clusters too.
      sim = simulatedFleet({ ...fleetOpts, clusters: config.clusters - 2, nodes: config.nodes });
      await group.start([sim]);
    }
    const demo = demoFleet(fleetOpts);
    await group.start([demo]);
    demoLines = demoBanner(demo, config.dataDir, sim);
  }
  const lines = [
    '',
    `Shoal is up (${((Date.now() - t0) / 1000).toFixed(1)} s). Local stack:`,
    ...stack!.describe().map((l) => `  ${l}`),
    'Control plane:',
    ...cp.endpoints().map((l) => `  ${l}`),
    ...demoLines,
    '',
    'Press Ctrl-C to stop; servers Shoal started are stopped, reused ones are left running.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  // Run until a signal, even when every server was reused and nothing else holds the loop open.
  setInterval(() => undefined, 3_600_000);
} catch (err) {
  logger.fatal({ err: err instanceof Error ? { message: err.message } : err }, 'start-up failed');
  process.stderr.write(`\nshoal: ${(err as Error).message}\n`);
  await group.close().catch(() => undefined);
  process.exit(1);
}
