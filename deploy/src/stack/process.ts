import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@shoal/common';

export interface ProcessSpec {
  /** Short name: used for the log file and the pid file. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Folder for `<name>.log` and `<name>.pid`. */
  readonly runDir: string;
  /** Resolves true once the process serves; polled until `readyTimeoutMs`. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs?: number;
  /** Signal that makes the process shut down cleanly. */
  readonly stopSignal?: NodeJS.Signals;
  readonly stopTimeoutMs?: number;
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * A server process that Shoal started and therefore must stop. It runs in its own process group,
 * so a Ctrl-C in the terminal reaches Shoal first and Shoal stops its servers in order; its
 * output goes to a log file whose tail is quoted when it fails to come up.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  constructor(
    readonly spec: ProcessSpec,
    private readonly logger: Logger,
  ) {}

  get logFile(): string {
    return join(this.spec.runDir, `${this.spec.name}.log`);
  }

  get pidFile(): string {
    return join(this.spec.runDir, `${this.spec.name}.pid`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    mkdirSync(this.spec.runDir, { recursive: true });
    const out = openSync(this.logFile, 'a');
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', out, out],
      detached: true,
      uid: this.spec.uid,
      gid: this.spec.gid,
    });
    closeSync(out);
    this.child = child;
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    if (child.pid !== undefined) writeFileSync(this.pidFile, `${child.pid}\n`);
    const log = this.logger.child({ process: this.spec.name, pid: child.pid });
    log.debug({ command: this.spec.command, args: this.spec.args }, 'starting');
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 60_000);
    let exitCode: number | null | undefined;
    void this.exited.then((c) => (exitCode = c));
    for (;;) {
      if (spawnError)
        throw new Error(`could not start ${this.spec.command}: ${spawnError.message}`);
      if (exitCode !== undefined) {
        throw new Error(
          `${this.spec.name} exited with code ${exitCode} while starting; last lines of ${this.logFile}:\n${this.tail()}`,
        );
      }
      if (await this.spec.ready().catch(() => false)) break;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `${this.spec.name} did not become ready within ${this.spec.readyTimeoutMs ?? 60_000} ms; last lines of ${this.logFile}:\n${this.tail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    log.debug('ready');
  }

  /** Stop the process (and its group): the stop signal, then SIGKILL after the timeout. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || !this.exited) return;
    this.child = undefined;
    const pid = child.pid;
    const alive = child.exitCode === null && child.signalCode === null;
    if (alive) {
      signalGroup(pid, this.spec.stopSignal ?? 'SIGTERM');
      const timeout = this.spec.stopTimeoutMs ?? 10_000;
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), timeout).unref()),
      ]);
      if (timedOut) {
        this.logger.warn(
          { process: this.spec.name, pid, timeout },
          'did not stop in time: SIGKILL',
        );
        signalGroup(pid, 'SIGKILL');
        await this.exited;
      }
    }
    rmSync(this.pidFile, { force: true });
  }

  tail(lines = 20): string {
    if (!existsSync(this.logFile)) return '(no log)';
    return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}
