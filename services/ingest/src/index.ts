export { createIngest, DeadLetterHeaders, type Ingest, type IngestDeps } from './ingest.js';
export { ingestConfig, ingestSettings, loadIngestConfig, type IngestConfig } from './config.js';
export { checkMessage, type Checked, type DeadLetterReason } from './validate.js';
export { ensureJetStream } from './jetstream.js';
export * from './errors.js';
