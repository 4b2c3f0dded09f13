/**
 * "Has every connected node of cluster C ACKed version V?" over NATS request/reply. Every xDS
 * replica answers for the nodes connected to it (no queue group); the asker gathers the answers
 * of all replicas and merges them, so the answer covers the whole fleet behind the load balancer.
 */
import { Subjects, type Logger, type Runner } from '@shoal/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { convergence, type Convergence, type NodeProgress } from './core/convergence.js';
import type { NodeRegistry } from './nodes.js';

interface ReplicaAnswer {
  readonly replica: string;
  readonly nodes: NodeProgress[];
}

export class ConvergenceResponder implements Runner {
  readonly name = 'xds-convergence';
  private sub: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly replica: string,
    private readonly nodes: NodeRegistry,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const sub = this.nc.subscribe(Subjects.xdsConvergenceAll, {
      callback: (err, msg) => {
        if (err) return this.logger.warn({ err }, 'convergence subscription error');
        const cluster = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        const answer: ReplicaAnswer = {
          replica: this.replica,
          nodes: this.nodes.progress(cluster),
        };
        msg.respond(JSON.stringify(answer));
      },
    });
    this.sub = sub;
    await this.nc.flush();
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    this.sub = undefined;
    await Promise.resolve();
  }
}

/**
 * Ask every xDS replica; waits until no replica answered for `stallMs` after the first answer
 * (or `timeoutMs` overall). With no replica up, the answer has no nodes and is not converged.
 */
export async function queryConvergence(
  nc: NatsConnection,
  cluster: string,
  version: string,
  { timeoutMs = 2000, stallMs = 150 }: { timeoutMs?: number; stallMs?: number } = {},
): Promise<Convergence> {
  const nodes: NodeProgress[] = [];
  try {
    const replies = await nc.requestMany(
      Subjects.xdsConvergence(cluster),
      JSON.stringify({ version }),
      {
        strategy: 'stall',
        stall: stallMs,
        maxWait: timeoutMs,
      },
    );
    for await (const m of replies) {
      nodes.push(...(m.json<ReplicaAnswer>().nodes ?? []));
    }
  } catch (err) {
    // No replica listening is an answer too: nobody is connected.
    if (!/no responders|503/i.test((err as Error).message)) throw err;
  }
  return convergence(cluster, version, nodes);
}
