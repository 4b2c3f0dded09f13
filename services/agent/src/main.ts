/**
 * shoal-agent: reports one cluster's (or edge site's) resources to the control plane.
 *   node --import tsx services/agent/src/main.ts --cluster eu-1 --source kube
 *   node --import tsx services/agent/src/main.ts --cluster shop-7 --source manifest-dir \
 *     --manifest-dir ./site --nkey-seed-file deploy/nats/generated/shop-7.nk
 */
import { createLogger, helpText, runUntilSignal, wantsHelp } from '@shoal/common';
import { agentConfigSpec, loadAgentConfig } from './config.js';
import { createAgent } from './create.js';

if (wantsHelp()) {
  process.stdout.write(
    helpText('shoal-agent', 'shoal-agent --cluster NAME [options]', agentConfigSpec),
  );
  process.exit(0);
}

const logger = createLogger({ service: 'shoal-agent' });
let cfg;
try {
  cfg = loadAgentConfig();
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(2);
}
await runUntilSignal([createAgent(cfg, { logger })], { logger });
