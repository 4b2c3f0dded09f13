import { ShoalError } from '@shoal/common';

/** The on-disk buffer cannot be read back: a record in the middle of it fails its checksum. */
export class OutboxCorruptError extends ShoalError {
  constructor(file: string, offset: number, detail: string) {
    super(
      'AGENT_OUTBOX_CORRUPT',
      `agent buffer ${file} is damaged at byte ${offset} (${detail}); events after this point ` +
        'cannot be trusted. Move the buffer folder aside and restart: the agent resyncs from the source.',
      { details: { file, offset } },
    );
  }
}

/** A manifest file that cannot be accepted; nothing from that file is published. */
export class ManifestError extends ShoalError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly field: string,
    readonly reason: string,
    readonly document = 0,
  ) {
    super(
      'AGENT_MANIFEST_INVALID',
      `${file}:${line}:${column}: document ${document + 1}, field ${field || '(document)'}: ${reason}. ` +
        'Fix the file; nothing from it is published until it is valid.',
      { details: { file, line, column, field, document } },
    );
  }
}

/** NATS refused a publish because these credentials may not write the subject. */
export class PublishDeniedError extends ShoalError {
  constructor(cluster: string, subject: string, cause?: unknown) {
    super(
      'AGENT_PUBLISH_DENIED',
      `NATS refused a publish to ${subject} for cluster "${cluster}": the agent's credentials do ` +
        "not allow this subject. Check that --cluster matches the cluster of the agent's nkey.",
      { cause, details: { cluster, subject } },
    );
  }
}

/** The Kubernetes API answered a list or watch with an error that is not a resumable one. */
export class KubeApiError extends ShoalError {
  constructor(path: string, status: number, message: string, cause?: unknown) {
    super('AGENT_KUBE_API', `Kubernetes API ${path} answered ${status}: ${message}`, {
      cause,
      details: { path, status },
    });
  }
}
