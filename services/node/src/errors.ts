import { ShoalError } from '@shoal/common';

export class ActorStoppedError extends ShoalError {
  constructor(actor: string, state: string) {
    super('ACTOR_STOPPED', `actor "${actor}" is ${state} and cannot take messages`, {
      details: { actor, state },
    });
  }
}

export class ActorAskTimeoutError extends ShoalError {
  constructor(actor: string, timeoutMs: number) {
    super('ACTOR_ASK_TIMEOUT', `actor "${actor}" did not answer within ${timeoutMs} ms`, {
      details: { actor, timeoutMs },
    });
  }
}

/** A pushed xDS resource that cannot be applied; the xDS client NACKs with this message. */
export class ConfigRejectedError extends ShoalError {
  constructor(typeUrl: string, resource: string, reason: string, cause?: unknown) {
    super('CONFIG_REJECTED', `${typeUrl} "${resource}": ${reason}`, {
      cause,
      details: { typeUrl, resource },
    });
  }
}

/** An HBONE tunnel could not be opened; `status` is the HTTP status or a local reason. */
export class TunnelError extends ShoalError {
  constructor(destination: string, reason: string, cause?: unknown) {
    super('HBONE_TUNNEL_FAILED', `HBONE tunnel to ${destination} failed: ${reason}`, {
      cause,
      details: { destination },
    });
  }
}

export class NoCertificateError extends ShoalError {
  constructor(identity: string) {
    super(
      'NO_CERTIFICATE',
      `no certificate for ${identity} on this node yet: the cert manager fetches it from the CA when the workload is scheduled here`,
      { details: { identity } },
    );
  }
}
