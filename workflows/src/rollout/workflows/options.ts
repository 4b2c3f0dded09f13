import { proxyActivities } from '@temporalio/workflow';
import type { RolloutActivities } from '../activities.js';
import type { RolloutTuning } from '../definitions.js';

/**
 * Activity proxies by retry semantics. Non-retryable failures (NACK, deadline, invalid plan) stop
 * at once whatever the policy; everything else (a NATS timeout, a dead worker) is retried.
 */
export function activitiesFor(t: RolloutTuning) {
  const heartbeatTimeout = t.heartbeatTimeoutMs;
  const quick = proxyActivities<RolloutActivities>({
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      maximumAttempts: 10,
    },
  });
  const waiting = proxyActivities<RolloutActivities>({
    startToCloseTimeout: '2 hours',
    heartbeatTimeout,
    retry: {
      initialInterval: '500ms',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      maximumAttempts: 10,
    },
  });
  // Compensation: a few quick attempts per round; the workflow adds rounds and counts failures.
  const compensating = proxyActivities<RolloutActivities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout,
    retry: {
      initialInterval: '200ms',
      backoffCoefficient: 2,
      maximumInterval: '5s',
      maximumAttempts: 5,
    },
  });
  return { quick, waiting, compensating };
}
