/** shoal-xds: one xDS server replica. `--help` lists the settings. */
import { ConfigError, createLogger, helpText, runUntilSignal, wantsHelp } from '@shoal/common';
import { XDS_CONFIG, loadXdsConfig } from './config.js';
import { createXdsServer } from './server.js';

if (wantsHelp()) {
  process.stdout.write(helpText('shoal-xds', 'shoal-xds [options]', XDS_CONFIG));
  process.exit(0);
}
const logger = createLogger({ service: 'shoal-xds' });
let cfg;
try {
  cfg = loadXdsConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  logger.fatal(err.message);
  process.exit(2);
}
const server = createXdsServer(cfg, { logger });
await runUntilSignal([server], {
  logger,
  onStarted: () => {
    logger.info(
      { tls: server.ports.tls, plaintext: server.ports.plaintext, admin: server.admin.address },
      'shoal-xds ready',
    );
  },
});
