/** The event envelope (DESIGN.md §3) comes from the store's package; one helper is the agent's. */
export {
  newEventId,
  resourceStream,
  type EventEnvelope,
  type EventMetadata,
  type Json,
  type JsonObject,
} from '@shoal/db';

/** Stream of a cluster's own lifecycle events (registration, heartbeats). */
export function clusterStream(cluster: string): string {
  return `cluster/${cluster}`;
}
