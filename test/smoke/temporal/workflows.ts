import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from './activities.js';

const { describeResource } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

/** Smoke workflow: one activity call, its result returned. */
export async function smokeWorkflow(kind: string, name: string): Promise<string> {
  const described = await describeResource(kind, name);
  return `workflow saw: ${described}`;
}
