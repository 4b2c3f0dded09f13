import type { Logger } from '@shoal/common';

/**
 * The actor model of a node worker. An actor owns its state; the only way in is a message in its
 * mailbox, processed one at a time. Actors never share mutable objects: what they send each other
 * is plain (ideally frozen) data.
 */
export interface Actor<M> {
  /** Handle one message. A throw (or rejected promise) is a crash: the supervisor restarts. */
  receive(msg: M): void | Promise<void>;
  /** Release sockets, servers and timers. Called on stop and before a restart. */
  stop?(): void | Promise<void>;
}

export interface ActorContext<M> {
  readonly name: string;
  readonly logger: Logger;
  readonly self: ActorRef<M>;
  /**
   * Report a failure that happened outside receive() (a socket 'error', a timer): the
   * supervisor treats it like a crash of the current incarnation.
   */
  fail(err: unknown): void;
}

/** Builds a fresh incarnation (fresh state) of an actor; called at start and on every restart. */
export type ActorFactory<M> = (ctx: ActorContext<M>) => Actor<M> | Promise<Actor<M>>;

/** A reply slot carried inside an ask message. */
export interface Reply<R> {
  resolve(value: R): void;
  reject(err: unknown): void;
}

/** The address of an actor: the only handle other actors get. */
export interface ActorRef<M> {
  readonly name: string;
  /** Enqueue a message; never blocks, never throws (a stopped actor drops it). */
  tell(msg: M): void;
  /**
   * Send a message that carries a reply slot and wait for the answer. Rejects when the actor
   * crashes on that message, is stopped, or does not answer within `timeoutMs`.
   */
  ask<R>(make: (reply: Reply<R>) => M, timeoutMs?: number): Promise<R>;
}

export interface RestartPolicy {
  /** First restart delay; doubled for each further restart inside the window. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** More than this many restarts within `windowMs` escalates to the supervisor's parent. */
  readonly maxRestarts: number;
  readonly windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialBackoffMs: 100,
  maxBackoffMs: 10_000,
  maxRestarts: 5,
  windowMs: 60_000,
};

export type ActorState = 'starting' | 'running' | 'restarting' | 'failed' | 'stopped';

export interface ActorStatus {
  readonly name: string;
  readonly state: ActorState;
  readonly restarts: number;
  readonly crashes: number;
  readonly lastError?: string;
}

/** Pure: the delay before the next restart, given the restarts already inside the window. */
export function backoffDelay(policy: RestartPolicy, restartsInWindow: number): number {
  return Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** restartsInWindow);
}

/**
 * Pure: prune restart times outside the window; `escalate` when one more restart would exceed the
 * budget.
 */
export function restartDecision(
  policy: RestartPolicy,
  restartTimes: readonly number[],
  now: number,
): { recent: number[]; escalate: boolean; delayMs: number } {
  const recent = restartTimes.filter((t) => now - t < policy.windowMs);
  if (recent.length >= policy.maxRestarts) return { recent, escalate: true, delayMs: 0 };
  return { recent, escalate: false, delayMs: backoffDelay(policy, recent.length) };
}
