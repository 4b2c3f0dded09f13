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
  /**
   * The node a token was created for. Single requester: the first redemption binds the token to
   * `requester` (the fingerprint of the CSR's public key); later redemptions by that same key
   * succeed until the token expires (a join whose reply was lost — a timeout, a dropped
   * connection — can be retried), and any other key is refused.
   */
  redeem(token: string, requester: string, now?: number): Promise<NodeRef | undefined>;
}

/** How long a used token still answers retries by the key that used it. */
export const JOIN_RETRY_WINDOW_MS = 10 * 60_000;

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
  private readonly tokens = new Map<
    string,
    { node: NodeRef; expiresAt: number; boundTo?: string }
  >();

  add(token: string, node: NodeRef, ttlMs = 3600_000, now = Date.now()): void {
    for (const [k, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(k);
    this.tokens.set(token, { node, expiresAt: now + ttlMs });
  }

  redeem(token: string, requester: string, now = Date.now()): Promise<NodeRef | undefined> {
    const t = this.tokens.get(token);
    if (!t || t.expiresAt <= now) {
      this.tokens.delete(token);
      return Promise.resolve(undefined);
    }
    if (t.boundTo !== undefined && t.boundTo !== requester) return Promise.resolve(undefined);
    if (t.boundTo === undefined) {
      t.boundTo = requester;
      t.expiresAt = Math.min(t.expiresAt, now + JOIN_RETRY_WINDOW_MS);
    }
    return Promise.resolve(t.node);
  }
}
