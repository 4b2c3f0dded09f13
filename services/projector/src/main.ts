import { runService } from '@shoal/common';
import { loadProjectorConfig, projectorSettings } from './config.js';
import { createProjector } from './projector.js';

await runService({
  name: 'shoal-projector',
  usage: 'tsx services/projector/src/main.ts [options]',
  settings: projectorSettings,
  load: loadProjectorConfig,
  create: createProjector,
});
