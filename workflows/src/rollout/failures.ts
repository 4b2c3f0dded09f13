/**
 * Names of the Temporal failure types that activities raise and workflows act on. No imports:
 * this module is loaded inside the workflow sandbox.
 */
export const FailureTypes = {
  /** A node rejected the version (xDS NACK): not retryable, the gate failed. */
  configRejected: 'ConfigRejected',
  /** Nodes did not ACK before the convergence deadline: not retryable. */
  convergenceDeadline: 'ConvergenceDeadlineExceeded',
  /** The policy or fleet cannot be planned: not retryable. */
  invalidPlan: 'InvalidRolloutPlan',
  /** Some touched clusters could not be restored to their last good version. */
  compensationIncomplete: 'RolloutCompensationIncomplete',
} as const;

/** Details attached to a ConfigRejected failure. */
export interface RejectionDetails {
  readonly cluster: string;
  readonly node: string;
  readonly version: string;
  readonly message: string;
}
