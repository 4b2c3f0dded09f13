import { ShoalError } from '@shoal/common';

/** A node's config snapshot breaks a reference (route → cluster, EDS → cluster, listener → route). */
export class InconsistentSnapshotError extends ShoalError {
  constructor(cluster: string, node: string, version: string, issues: readonly string[]) {
    super(
      'XDS_SNAPSHOT_INCONSISTENT',
      `config version ${version} of node ${cluster}/${node} is inconsistent and is not served: ` +
        `${issues.join('; ')}. Fix the compiler output and publish a new version.`,
      { details: { cluster, node, version, issues } },
    );
  }
}

/** The same cluster/version was published twice with different content (versions are immutable). */
export class ConfigVersionConflictError extends ShoalError {
  constructor(cluster: string, version: string) {
    super(
      'XDS_VERSION_CONFLICT',
      `config version ${version} of cluster ${cluster} already exists with different content; ` +
        `versions are immutable: publish the change under a new version`,
      { details: { cluster, version } },
    );
  }
}

/** An assignment names a version that was never published. */
export class ConfigVersionNotFoundError extends ShoalError {
  constructor(cluster: string, version: string) {
    super(
      'XDS_VERSION_NOT_FOUND',
      `config version ${version} of cluster ${cluster} was not published; ` +
        `publish it with publishConfigVersion() before assigning it`,
      { details: { cluster, version } },
    );
  }
}

/** Why a stream was refused; mapped to a gRPC status at the edge (server/identity.ts). */
export class NodeIdentityError extends ShoalError {
  constructor(
    readonly reason: 'unauthenticated' | 'permission-denied',
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(reason === 'unauthenticated' ? 'XDS_UNAUTHENTICATED' : 'XDS_PERMISSION_DENIED', message, {
      details,
    });
  }
}
