import { ShoalError } from '@shoal/common';

export type ExpectedVersion = number | 'any' | 'no-stream';

/** An append's expectedVersion did not match the stream: re-read the stream and decide again. */
export class ConcurrencyConflictError extends ShoalError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(
      'CONCURRENCY_CONFLICT',
      `stream "${stream}" is at version ${actual}, but the append expected ${String(expected)}: ` +
        're-read the stream and retry the command',
      { details: { stream, expected, actual } },
    );
  }
}

/** An event id was appended before with different content: ids must be unique per event. */
export class EventIdConflictError extends ShoalError {
  constructor(
    readonly eventId: string,
    /** Position of the stored event; undefined when both copies came in the same append. */
    readonly position: number | undefined,
    readonly stream: string,
  ) {
    super(
      'EVENT_ID_CONFLICT',
      `event id ${eventId} ${position === undefined ? 'appears twice in one append' : `is already stored at position ${position}`} ` +
        `(stream "${stream}") with different content: give each new event a fresh UUIDv7`,
      { details: { eventId, position, stream } },
    );
  }
}

/** The database schema could not be brought up to date. */
export class MigrationError extends ShoalError {
  constructor(folder: string, cause: unknown) {
    super(
      'MIGRATION_FAILED',
      `could not apply the migrations in ${folder}: ${(cause as Error).message}. ` +
        'Check DATABASE_URL points at a PostgreSQL 15+ database Shoal may create tables in',
      { cause, details: { folder } },
    );
  }
}
