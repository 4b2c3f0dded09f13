import type { Logger, Runner } from '@shoal/common';
import type { Stack } from './stack/index.js';

export interface ControlPlaneOptions {
  readonly stack: Stack;
  readonly logger: Logger;
  readonly dataDir: string;
}

export interface ControlPlane {
  readonly runners: readonly Runner[];
  /** Lines for the start-up banner: where each service listens. */
  readonly endpoints: readonly string[];
}

/**
 * The seam where `npm start` wires the control-plane services, in start order: ingest,
 * projector, CA, xDS, API, the Temporal rollout worker. Each is a Runner built from its own
 * service package's config and adapters; this function only connects them to the stack.
 * None has landed yet: the list is empty until their issues do.
 */
export function controlPlane(_opts: ControlPlaneOptions): ControlPlane {
  return { runners: [], endpoints: [] };
}
