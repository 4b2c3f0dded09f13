import { runService } from '@shoal/common';
import { ingestSettings, loadIngestConfig } from './config.js';
import { createIngest } from './ingest.js';

await runService({
  name: 'shoal-ingest',
  usage: 'tsx services/ingest/src/main.ts [options]',
  settings: ingestSettings,
  load: loadIngestConfig,
  create: createIngest,
});
