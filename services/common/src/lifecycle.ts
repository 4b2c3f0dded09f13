import type { Logger } from './logger.js';

/**
 * Every long-running part of Shoal (a server, a consumer, a child process) is a Runner with the
 * same small lifecycle, wired in one place per process (the service's main.ts).
 */
export interface Runner {
  readonly name: string;
  start(): Promise<void>;
  /** Stop accepting work, finish or hand back what is in flight, release resources. Idempotent. */
  close(): Promise<void>;
}

export interface RunOptions {
  readonly logger: Logger;
  /** How long close() of all runners may take before the process exits anyway. */
  readonly shutdownTimeoutMs?: number;
  /** Called after all runners started (for printing where things listen). */
  readonly onStarted?: () => void | Promise<void>;
  readonly signals?: readonly NodeJS.Signals[];
}

/** Start runners in order; close them in reverse order. Used by main.ts and by tests. */
export class RunnerGroup {
  private readonly started: Runner[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  async start(runners: readonly Runner[]): Promise<void> {
    for (const r of runners) {
      const t0 = Date.now();
      // Registered before start() resolves: a shutdown during a slow start (a signal, or a
      // later runner failing) must still close what this runner has already brought up.
      this.started.push(r);
      await r.start();
      this.logger.debug({ runner: r.name, ms: Date.now() - t0 }, 'runner started');
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      for (const r of [...this.started].reverse()) {
        try {
          await r.close();
          this.logger.debug({ runner: r.name }, 'runner closed');
        } catch (err) {
          errors.push(err);
          this.logger.error({ runner: r.name, err }, 'runner failed to close');
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, 'some runners failed to close');
    })();
    return this.closing;
  }
}

/**
 * Install SIGINT/SIGTERM handlers that call `drain` once and then exit. A second signal, or a
 * drain that outlasts the timeout, exits at once with a non-zero code.
 */
export function exitOnSignal(
  logger: Logger,
  drain: () => Promise<void>,
  { timeoutMs = 15_000, signals = ['SIGINT', 'SIGTERM'] as readonly NodeJS.Signals[] } = {},
): { stopping: () => boolean } {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    drain().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, () => stop(s));
  return { stopping: () => stopping };
}

/** Start runners in order and run until a signal, then close them newest-first and exit. */
export async function runUntilSignal(runners: readonly Runner[], opts: RunOptions): Promise<void> {
  const group = new RunnerGroup(opts.logger);
  exitOnSignal(opts.logger, () => group.close(), {
    timeoutMs: opts.shutdownTimeoutMs,
    signals: opts.signals,
  });
  try {
    await group.start(runners);
  } catch (err) {
    opts.logger.fatal({ err }, 'start-up failed');
    await group.close().catch(() => undefined);
    process.exit(1);
  }
  await opts.onStarted?.();
}
