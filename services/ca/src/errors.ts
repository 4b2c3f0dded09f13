import { ShoalError } from '@shoal/common';

export class CaRootError extends ShoalError {
  constructor(dir: string, reason: string, cause?: unknown) {
    super(
      'CA_ROOT_INVALID',
      `CA root in ${dir}: ${reason}; fix or remove ca.crt/ca.key there to create a new root`,
      { cause, details: { dir } },
    );
  }
}

export class CsrInvalidError extends ShoalError {
  constructor(identity: string, reason: string, cause?: unknown) {
    super('CSR_INVALID', `certificate request for ${identity}: ${reason}`, {
      cause,
      details: { identity },
    });
  }
}

/** The caller may not obtain this certificate (wrong node, unknown token, not scheduled here). */
export class NotAuthorizedError extends ShoalError {
  constructor(caller: string, requested: string, reason: string) {
    super(
      'CA_NOT_AUTHORIZED',
      `${caller} may not obtain a certificate for ${requested}: ${reason}`,
      {
        details: { caller, requested },
      },
    );
  }
}

export class JoinTokenError extends ShoalError {
  constructor(reason: string) {
    super(
      'JOIN_TOKEN_INVALID',
      `join token rejected: ${reason}; create a new join token for this node`,
    );
  }
}
