import type { Logger } from '@shoal/common';
import { Counter, type Registry } from 'prom-client';
import {
  DEFAULT_RESTART_POLICY,
  restartDecision,
  type Actor,
  type ActorContext,
  type ActorFactory,
  type ActorRef,
  type ActorState,
  type ActorStatus,
  type Reply,
  type RestartPolicy,
} from './actor.js';
import { ActorAskTimeoutError, ActorStoppedError } from '../errors.js';

export interface SupervisorOptions {
  readonly name: string;
  readonly logger: Logger;
  readonly registry?: Registry;
  /**
   * Called when an actor used up its restart budget. The actor stays stopped; the supervisor's
   * owner decides (the node marks itself not ready). Never exits the process.
   */
  readonly onEscalate?: (actor: string, err: unknown) => void;
}

interface Envelope<M> {
  readonly msg: M;
  readonly reply?: Reply<unknown>;
}

/**
 * Runs actors: one mailbox per actor, one message at a time, restart with exponential backoff on
 * a crash, escalation when the restart budget is spent. Crashes are logged and counted and never
 * propagate out of the supervisor.
 */
export class Supervisor {
  private readonly cells = new Map<string, Cell<unknown>>();
  private readonly crashes: Counter<'supervisor' | 'actor'>;
  private readonly restarts: Counter<'supervisor' | 'actor'>;
  private readonly escalations: Counter<'supervisor' | 'actor'>;

  constructor(private readonly opts: SupervisorOptions) {
    const registers = opts.registry ? [opts.registry] : [];
    const labelNames = ['supervisor', 'actor'] as const;
    this.crashes = new Counter({
      name: 'shoal_actor_crashes_total',
      help: 'Actor crashes (exceptions in receive or reported failures)',
      labelNames,
      registers,
    });
    this.restarts = new Counter({
      name: 'shoal_actor_restarts_total',
      help: 'Actor restarts after a crash',
      labelNames,
      registers,
    });
    this.escalations = new Counter({
      name: 'shoal_actor_escalations_total',
      help: 'Actors that used up their restart budget and were stopped',
      labelNames,
      registers,
    });
  }

  spawn<M>(name: string, factory: ActorFactory<M>, policy?: Partial<RestartPolicy>): ActorRef<M> {
    if (this.cells.has(name)) throw new Error(`actor "${name}" already exists`);
    const cell = new Cell<M>(name, factory, { ...DEFAULT_RESTART_POLICY, ...policy }, this.hooks());
    this.cells.set(name, cell as Cell<unknown>);
    cell.boot();
    return cell.ref;
  }

  /** Wait until the named actor's current incarnation has started (or failed). */
  async whenStarted(name: string): Promise<void> {
    await this.cells.get(name)?.started;
  }

  status(): ActorStatus[] {
    return [...this.cells.values()].map((c) => c.status());
  }

  async stop(name: string): Promise<void> {
    const cell = this.cells.get(name);
    this.cells.delete(name);
    await cell?.shutdown();
  }

  /** Stop every actor, newest first. */
  async stopAll(): Promise<void> {
    for (const name of [...this.cells.keys()].reverse()) await this.stop(name);
  }

  private hooks(): CellHooks {
    const labels = (actor: string) => ({ supervisor: this.opts.name, actor });
    return {
      logger: this.opts.logger,
      crashed: (actor, err) => {
        this.crashes.inc(labels(actor));
        this.opts.logger.error({ actor, err }, 'actor crashed');
      },
      restarted: (actor, attempt, delayMs) => {
        this.restarts.inc(labels(actor));
        this.opts.logger.warn({ actor, attempt, delayMs }, 'actor restarted');
      },
      escalated: (actor, err) => {
        this.escalations.inc(labels(actor));
        this.opts.logger.fatal({ actor, err }, 'actor exceeded its restart budget; stopped');
        try {
          this.opts.onEscalate?.(actor, err);
        } catch (e) {
          this.opts.logger.error({ actor, err: e }, 'escalation handler failed');
        }
      },
    };
  }
}

interface CellHooks {
  readonly logger: Logger;
  crashed(actor: string, err: unknown): void;
  restarted(actor: string, attempt: number, delayMs: number): void;
  escalated(actor: string, err: unknown): void;
}

class Cell<M> {
  readonly ref: ActorRef<M>;
  started: Promise<void> = Promise.resolve();
  private state: ActorState = 'starting';
  private instance: Actor<M> | undefined;
  /** Bumped per incarnation so late failures of an old incarnation are ignored. */
  private incarnation = 0;
  private readonly mailbox: Envelope<M>[] = [];
  private draining = false;
  private restartTimes: number[] = [];
  private restartCount = 0;
  private crashCount = 0;
  private lastError: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly name: string,
    private readonly factory: ActorFactory<M>,
    private readonly policy: RestartPolicy,
    private readonly hooks: CellHooks,
  ) {
    this.ref = {
      name,
      tell: (msg) => this.enqueue({ msg }),
      ask: <R>(make: (reply: Reply<R>) => M, timeoutMs = 5000) =>
        new Promise<R>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new ActorAskTimeoutError(name, timeoutMs)),
            timeoutMs,
          );
          const reply: Reply<R> = {
            resolve: (v) => {
              clearTimeout(timer);
              resolve(v);
            },
            reject: (e) => {
              clearTimeout(timer);
              reject(e instanceof Error ? e : new Error(String(e)));
            },
          };
          this.enqueue({ msg: make(reply), reply: reply as Reply<unknown> });
        }),
    };
  }

  status(): ActorStatus {
    return {
      name: this.name,
      state: this.state,
      restarts: this.restartCount,
      crashes: this.crashCount,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  boot(): void {
    const incarnation = ++this.incarnation;
    this.state = 'starting';
    const ctx: ActorContext<M> = {
      name: this.name,
      logger: this.hooks.logger.child({ actor: this.name }),
      self: this.ref,
      fail: (err) => {
        if (incarnation === this.incarnation && this.state === 'running') this.crash(err);
      },
    };
    this.started = (async () => {
      try {
        const inst = await this.factory(ctx);
        if (incarnation !== this.incarnation || this.state !== 'starting') {
          await inst.stop?.();
          return;
        }
        this.instance = inst;
        this.state = 'running';
        this.drain();
      } catch (err) {
        if (incarnation === this.incarnation) this.crash(err);
      }
    })();
  }

  private enqueue(env: Envelope<M>): void {
    if (this.state === 'stopped' || this.state === 'failed') {
      env.reply?.reject(new ActorStoppedError(this.name, this.state));
      return;
    }
    this.mailbox.push(env);
    this.drain();
  }

  private drain(): void {
    if (this.draining || this.state !== 'running') return;
    this.draining = true;
    void (async () => {
      try {
        while (this.state === 'running' && this.mailbox.length > 0) {
          const env = this.mailbox.shift()!;
          const incarnation = this.incarnation;
          try {
            await this.instance!.receive(env.msg);
          } catch (err) {
            env.reply?.reject(err);
            if (incarnation === this.incarnation) this.crash(err);
          }
        }
      } finally {
        this.draining = false;
      }
    })();
  }

  private crash(err: unknown): void {
    this.crashCount++;
    this.lastError = err instanceof Error ? err.message : String(err);
    this.hooks.crashed(this.name, err);
    const old = this.instance;
    this.instance = undefined;
    this.incarnation++;
    void Promise.resolve()
      .then(() => old?.stop?.())
      .catch((e: unknown) => this.hooks.logger.warn({ actor: this.name, err: e }, 'stop failed'));
    const now = Date.now();
    const d = restartDecision(this.policy, this.restartTimes, now);
    if (d.escalate) {
      this.state = 'failed';
      for (const env of this.mailbox.splice(0))
        env.reply?.reject(new ActorStoppedError(this.name, 'failed'));
      this.hooks.escalated(this.name, err);
      return;
    }
    this.state = 'restarting';
    this.restartTimes = [...d.recent, now];
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.state !== 'restarting') return;
      this.restartCount++;
      this.hooks.restarted(this.name, this.restartCount, d.delayMs);
      this.boot();
    }, d.delayMs);
  }

  async shutdown(): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.started.catch(() => undefined);
    this.state = 'stopped';
    this.incarnation++;
    for (const env of this.mailbox.splice(0))
      env.reply?.reject(new ActorStoppedError(this.name, 'stopped'));
    const inst = this.instance;
    this.instance = undefined;
    await inst?.stop?.();
  }
}
