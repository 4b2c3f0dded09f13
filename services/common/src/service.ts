import type { Registry } from 'prom-client';
import { AdminServer, type ReadinessCheck } from './admin.js';
import { helpText, wantsHelp, type Setting } from './config.js';
import { ConfigError } from './errors.js';
import { runUntilSignal, type Runner } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';

/**
 * The entry point of a service that runs one component behind its admin server (ingest,
 * projector): `--help`, configuration (a bad setting exits 2 with the message), the admin
 * server with the component's readiness, then run until a signal.
 */
export async function runService<C extends { readonly adminPort: number }>(o: {
  /** e.g. `shoal-ingest`: the logger's service and the admin server's. */
  readonly name: string;
  readonly usage: string;
  readonly settings: Record<string, Setting<unknown>>;
  readonly load: () => C;
  readonly create: (
    cfg: C,
    deps: { logger: Logger; registry: Registry },
  ) => Runner & { ready: ReadinessCheck };
}): Promise<void> {
  if (wantsHelp()) {
    process.stdout.write(helpText(o.name, o.usage, o.settings));
    process.exit(0);
  }
  const logger = createLogger({ service: o.name });
  let cfg: C;
  try {
    cfg = o.load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.fatal(err.message);
    process.exit(2);
  }
  const admin = new AdminServer({ port: cfg.adminPort, service: o.name });
  const component = o.create(cfg, { logger, registry: admin.registry });
  admin.addReadinessCheck(component.name, () => component.ready());
  await runUntilSignal([component, admin], {
    logger,
    onStarted: () => logger.info({ admin: admin.address }, `${o.name} started`),
  });
}
