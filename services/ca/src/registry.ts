/**
 * What the CA needs to know from the desired state: which workloads are scheduled on which node,
 * and which join tokens are outstanding. In production fed from the projected mesh state; tests
 * use the in-memory implementations.
 */
export interface ScheduledWorkload {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly ip: string;
}

export interface NodeRef {
  readonly cluster: string;
  readonly node: string;
}

export interface WorkloadRegistry {
  workloadsOn(node: NodeRef): Promise<readonly ScheduledWorkload[]>;
}

export interface JoinTokenStore {
  /** The node a token was created for; single use: a redeemed token is gone. */
  redeem(token: string, now?: number): Promise<NodeRef | undefined>;
}

export class InMemoryWorkloadRegistry implements WorkloadRegistry {
  private readonly byNode = new Map<string, ScheduledWorkload[]>();

  set(node: NodeRef, workloads: readonly ScheduledWorkload[]): void {
    this.byNode.set(`${node.cluster}/${node.node}`, [...workloads]);
  }

  workloadsOn(node: NodeRef): Promise<readonly ScheduledWorkload[]> {
    return Promise.resolve(this.byNode.get(`${node.cluster}/${node.node}`) ?? []);
  }
}

export class InMemoryJoinTokens implements JoinTokenStore {
  private readonly tokens = new Map<string, { node: NodeRef; expiresAt: number }>();

  add(token: string, node: NodeRef, ttlMs = 3600_000, now = Date.now()): void {
    this.tokens.set(token, { node, expiresAt: now + ttlMs });
  }

  redeem(token: string, now = Date.now()): Promise<NodeRef | undefined> {
    const t = this.tokens.get(token);
    this.tokens.delete(token);
    return Promise.resolve(t && t.expiresAt > now ? t.node : undefined);
  }
}
