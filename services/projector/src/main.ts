import {
  AdminServer,
  ConfigError,
  createLogger,
  helpText,
  runUntilSignal,
  wantsHelp,
} from '@shoal/common';
import { loadProjectorConfig, projectorSettings } from './config.js';
import { createProjector } from './projector.js';

if (wantsHelp()) {
  process.stdout.write(
    helpText('shoal-projector', 'tsx services/projector/src/main.ts [options]', projectorSettings),
  );
  process.exit(0);
}
const logger = createLogger({ service: 'shoal-projector' });
let cfg;
try {
  cfg = loadProjectorConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  logger.fatal(err.message);
  process.exit(2);
}
const admin = new AdminServer({ port: cfg.adminPort, service: 'shoal-projector' });
const projector = createProjector(cfg, { logger, registry: admin.registry });
admin.addReadinessCheck('projector', () => projector.ready());
await runUntilSignal([projector, admin], {
  logger,
  onStarted: () => logger.info({ admin: admin.address }, 'shoal-projector started'),
});
