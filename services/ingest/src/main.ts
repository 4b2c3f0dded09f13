import {
  AdminServer,
  ConfigError,
  createLogger,
  helpText,
  runUntilSignal,
  wantsHelp,
} from '@shoal/common';
import { ingestSettings, loadIngestConfig } from './config.js';
import { createIngest } from './ingest.js';

if (wantsHelp()) {
  process.stdout.write(
    helpText('shoal-ingest', 'tsx services/ingest/src/main.ts [options]', ingestSettings),
  );
  process.exit(0);
}
const logger = createLogger({ service: 'shoal-ingest' });
let cfg;
try {
  cfg = loadIngestConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  logger.fatal(err.message);
  process.exit(2);
}
const admin = new AdminServer({ port: cfg.adminPort, service: 'shoal-ingest' });
const ingest = createIngest(cfg, { logger, registry: admin.registry });
admin.addReadinessCheck('ingest', () => ingest.ready());
await runUntilSignal([ingest, admin], {
  logger,
  onStarted: () => logger.info({ admin: admin.address }, 'shoal-ingest started'),
});
