import { ShoalError } from '@shoal/common';

/** This process no longer holds the ingest leader lock (its PostgreSQL session ended). */
export class LeadershipLostError extends ShoalError {
  constructor(consumer: string, cause?: unknown) {
    super(
      'INGEST_LEADERSHIP_LOST',
      `ingest lost the leader lock of consumer "${consumer}"; it stops and competes for it again`,
      { cause, details: { consumer } },
    );
  }
}

/** A message could not be written to the dead-letter stream, so it cannot be acknowledged. */
export class DeadLetterError extends ShoalError {
  constructor(subject: string, seq: number, cause: unknown) {
    super(
      'INGEST_DEAD_LETTER_FAILED',
      `could not dead-letter message ${seq} from ${subject}: ${(cause as Error).message}; it will be redelivered`,
      { cause, details: { subject, seq } },
    );
  }
}
