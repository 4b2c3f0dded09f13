import type { Scope } from '../core/diff.js';
import type { ObservedResource, ResourceRef } from '../core/resource.js';

/**
 * Where a source reports what it sees. Every call resolves once the resulting events (if any)
 * are durable in the agent's buffer, so a source that awaits its calls never outruns the disk.
 */
export interface SourceSink {
  /** A complete listing of `scope`: publish the differences, deletions included (resync). */
  replace(scope: Scope, items: readonly ObservedResource[]): Promise<void>;
  upsert(resource: ObservedResource): Promise<void>;
  delete(ref: ResourceRef): Promise<void>;
}

/**
 * A place the agent watches (a Kubernetes API, a folder of manifests). `start` resolves after
 * the first complete listing was handed to the sink (or was given up on for now, when the
 * place is unreachable: the source keeps retrying in the background).
 */
export interface Source {
  readonly name: string;
  start(sink: SourceSink): Promise<void>;
  close(): Promise<void>;
}
