import { ShoalError } from '@shoal/common';

/** The caller is not who they need to be: no or unknown credentials. */
export class UnauthenticatedError extends ShoalError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

/** The caller is known but their role does not allow the call. */
export class PermissionDeniedError extends ShoalError {
  constructor(
    readonly actor: string,
    readonly role: string,
    readonly method: string,
    readonly needed: string,
  ) {
    super(
      'PERMISSION_DENIED',
      `${actor} (role ${role}) may not call ${method}: it needs the "${needed}" permission ` +
        `(roles with it: ${rolesWith(needed).join(', ')}); ask an admin for a token with one of them`,
      { details: { actor, role, method, needed } },
    );
  }
}

/** Input the user must fix: every problem with where it is. */
export class ValidationError extends ShoalError {
  constructor(readonly problems: readonly string[]) {
    super('INVALID_ARGUMENT', problems.join('\n'), { details: { count: problems.length } });
  }
}

/** The state changed since the caller read it. */
export class ConflictError extends ShoalError {
  constructor(message: string, details: Record<string, unknown>) {
    super('CONFLICT', message, { details });
  }
}

export class NotFoundError extends ShoalError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** A dependency (store, NATS, Temporal) did not answer. */
export class UnavailableError extends ShoalError {
  constructor(message: string, cause?: unknown) {
    super('UNAVAILABLE', message, { cause });
  }
}

// Filled by rbac.ts (kept here to avoid an import cycle in messages).
let rolesWithImpl: (perm: string) => string[] = () => [];
export function setRolesWith(f: (perm: string) => string[]): void {
  rolesWithImpl = f;
}
function rolesWith(perm: string): string[] {
  return rolesWithImpl(perm);
}
