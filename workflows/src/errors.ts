import { ShoalError } from '@shoal/common';

/** One problem in a rollout policy or its inputs: where (field path) and what to do. */
export interface PlanIssue {
  readonly path: string;
  readonly problem: string;
}

/** The policy, fleet or version cannot be turned into a plan; nothing was assigned. */
export class InvalidRolloutPlanError extends ShoalError {
  readonly issues: readonly PlanIssue[];

  constructor(rolloutId: string, policy: string, issues: readonly PlanIssue[]) {
    super(
      'ROLLOUT_PLAN_INVALID',
      `rollout ${rolloutId}: policy "${policy}" cannot be planned:\n` +
        issues.map((i) => `  - ${i.path}: ${i.problem}`).join('\n'),
      { details: { rolloutId, policy, issues } },
    );
    this.issues = issues;
  }
}

/** An adapter answered with something that is not the protocol it expects. */
export class ProtocolError extends ShoalError {
  constructor(what: string, subject: string, problem: string, cause?: unknown) {
    super('ROLLOUT_PROTOCOL', `${what} on "${subject}": ${problem}`, {
      cause,
      details: { what, subject },
    });
  }
}
