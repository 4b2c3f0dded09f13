import { createCsr, generateKeyPair, type CaClient, type CertificateBundle } from '@shoal/ca';
import { Spiffe } from '@shoal/common';
import type { Actor, ActorContext, ActorRef } from '../actors/index.js';
import type { CertSet, IdentityCert } from '../hbone/identity.js';

export interface WorkloadIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

export type CertMsg =
  | { readonly kind: 'workloads'; readonly identities: readonly WorkloadIdentity[] }
  | { readonly kind: 'renew'; readonly spiffeId: string }
  | { readonly kind: 'subscribe'; readonly ref: ActorRef<{ kind: 'certs'; certs: CertSet }> };

export interface CertManagerOptions {
  readonly ca: Pick<CaClient, 'join' | 'renewNode' | 'signWorkload'>;
  readonly trustDomain: string;
  readonly cluster: string;
  readonly node: string;
  readonly joinToken: string;
  /** Renew at a random point between these fractions of the lifetime (jitter spreads load). */
  readonly renewAt?: readonly [number, number];
  /** Delay before retrying a failed CA call. */
  readonly retryMs?: number;
  /** Called with every new set (the node's own state, e.g. for the xDS client's mTLS). */
  readonly onCerts?: (certs: CertSet) => void;
}

/** Pure: when to renew a certificate received at `receivedAt` (ms). */
export function renewalDelay(receivedAt: number, notAfter: number, fraction: number): number {
  return Math.max(0, (notAfter - receivedAt) * fraction);
}

let generation = 0;

/**
 * The cert manager: joins the node (join token → node certificate), keeps the node certificate
 * and the certificates of the workloads scheduled here fresh (renewing at 50-80 % of their
 * lifetime), and pushes each new set to its subscribers. Keys are generated here and never leave
 * the process; the CA sees CSRs only.
 */
export function certManagerActor(opts: CertManagerOptions) {
  // The node certificate outlives an incarnation (like state on disk): the join token is single
  // use, so a restarted cert manager renews with the certificate it has instead of re-joining.
  // The join key pair outlives a failed attempt too: the CA binds the token to the first key that
  // uses it, so a join whose reply was lost (a timeout) is retried with the same key.
  const durable: {
    node?: IdentityCert;
    bundle: string;
    joinKey?: Awaited<ReturnType<typeof generateKeyPair>>;
  } = { bundle: '' };
  return async (ctx: ActorContext<CertMsg>): Promise<Actor<CertMsg>> => {
    const [lo, hi] = opts.renewAt ?? [0.5, 0.8];
    const nodeId = Spiffe.node(opts.trustDomain, opts.cluster, opts.node);
    const certs = new Map<string, IdentityCert>();
    const timers = new Map<string, NodeJS.Timeout>();
    const subscribers: ActorRef<{ kind: 'certs'; certs: CertSet }>[] = [];
    let bundle = durable.bundle;
    if (durable.node && durable.node.notAfter.getTime() > Date.now())
      certs.set(durable.node.spiffeId, durable.node);
    let wanted = new Map<string, WorkloadIdentity>();

    const publish = () => {
      const set: CertSet = { trustBundlePem: bundle, byIdentity: new Map(certs) };
      opts.onCerts?.(set);
      for (const s of subscribers) s.tell({ kind: 'certs', certs: set });
    };
    const schedule = (id: string, notAfter: Date, delay?: number) => {
      clearTimeout(timers.get(id));
      const ms =
        delay ?? renewalDelay(Date.now(), notAfter.getTime(), lo + Math.random() * (hi - lo));
      const t = setTimeout(() => ctx.self.tell({ kind: 'renew', spiffeId: id }), ms);
      t.unref();
      timers.set(id, t);
    };
    const store = (b: CertificateBundle, keyPem: string): IdentityCert => {
      const c: IdentityCert = {
        spiffeId: b.spiffeId,
        certChainPem: b.certChainPem,
        keyPem,
        notAfter: b.notAfter,
        generation: ++generation,
      };
      certs.set(b.spiffeId, c);
      bundle = b.trustBundlePem;
      durable.bundle = bundle;
      if (b.spiffeId === nodeId) durable.node = c;
      schedule(b.spiffeId, b.notAfter);
      return c;
    };
    const nodeAuth = () => {
      const n = certs.get(nodeId)!;
      return { certChainPem: n.certChainPem, keyPem: n.keyPem };
    };

    async function issue(id: string): Promise<void> {
      // Join when there is no node certificate, and again when it expired (renewal needs a valid
      // one: the CA was unreachable for too long); the CA accepts the join key until the token
      // expires, after that the node needs a new join token.
      const current = certs.get(nodeId);
      const joining = id === nodeId && (!current || current.notAfter.getTime() <= Date.now());
      if (joining) durable.joinKey ??= await generateKeyPair();
      const { keys, keyPem } = joining ? durable.joinKey! : await generateKeyPair();
      const csr = await createCsr(keys, id);
      if (id === nodeId) {
        store(
          joining
            ? await opts.ca.join(opts.joinToken, csr)
            : await opts.ca.renewNode(nodeAuth(), csr),
          keyPem,
        );
        return;
      }
      const w = wanted.get(id);
      if (!w) return;
      store(await opts.ca.signWorkload(nodeAuth(), w.namespace, w.serviceAccount, csr), keyPem);
    }

    async function attempt(id: string): Promise<void> {
      try {
        await issue(id);
        publish();
        ctx.logger.info({ spiffeId: id, notAfter: certs.get(id)?.notAfter }, 'certificate issued');
      } catch (err) {
        // The CA may be down: keep the current certificate (it may still be valid) and retry.
        ctx.logger.warn(
          { spiffeId: id, err: (err as Error).message },
          'certificate request failed; retrying',
        );
        const t = setTimeout(
          () => ctx.self.tell({ kind: 'renew', spiffeId: id }),
          opts.retryMs ?? 1000,
        );
        t.unref();
        timers.set(id, t);
      }
    }

    // Join before anything else: without a node certificate nothing else can be requested. A
    // failure here crashes the actor; the supervisor retries with backoff.
    if (!certs.has(nodeId)) {
      await issue(nodeId);
      publish(); // the node's own state (readiness, xDS credentials) hears of it at once
      ctx.logger.info({ spiffeId: nodeId }, 'node joined');
    } else {
      schedule(nodeId, certs.get(nodeId)!.notAfter);
    }

    return {
      async receive(msg) {
        switch (msg.kind) {
          case 'subscribe':
            subscribers.push(msg.ref);
            msg.ref.tell({
              kind: 'certs',
              certs: { trustBundlePem: bundle, byIdentity: new Map(certs) },
            });
            return;
          case 'renew':
            if (msg.spiffeId === nodeId || wanted.has(msg.spiffeId)) await attempt(msg.spiffeId);
            return;
          case 'workloads': {
            const next = new Map<string, WorkloadIdentity>();
            for (const w of msg.identities)
              next.set(Spiffe.workload(opts.trustDomain, w.namespace, w.serviceAccount), w);
            wanted = next;
            let changed = false;
            for (const id of [...certs.keys()]) {
              if (id !== nodeId && !wanted.has(id)) {
                certs.delete(id);
                clearTimeout(timers.get(id));
                timers.delete(id);
                changed = true;
              }
            }
            if (changed) publish();
            for (const id of wanted.keys()) if (!certs.has(id)) await attempt(id);
            return;
          }
        }
      },
      stop() {
        for (const t of timers.values()) clearTimeout(t);
        timers.clear();
      },
    };
  };
}
