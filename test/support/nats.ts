import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, silentLogger } from '@shoal/common';
import { ManagedProcess, probeNats } from '@shoal/deploy';

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>;
  /** Start again on the same port with the same store (after stop or kill). */
  start(): Promise<void>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Stop and delete the store. */
  dispose(): Promise<void>;
}

/**
 * A nats-server of the test's own (JetStream on, loopback, free port, temp store), for tests
 * that need isolation from other tests' streams or must restart or kill the server.
 */
export async function startNatsServer(
  opts: { port?: number; extraArgs?: string[]; configFile?: string } = {},
): Promise<TestNatsServer> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'shoal-nats-'));
  const storeDir = join(dir, 'js');
  const url = `nats://127.0.0.1:${port}`;
  let proc: ManagedProcess | undefined;
  const make = () =>
    new ManagedProcess(
      {
        name: `nats-${port}`,
        command: 'nats-server',
        args: [
          ...(opts.configFile ? ['-c', opts.configFile] : []),
          '-a',
          '127.0.0.1',
          '-p',
          String(port),
          '-js',
          '-sd',
          storeDir,
          ...(opts.extraArgs ?? []),
        ],
        env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin` },
        runDir: dir,
        ready: async () => (await probeNats(url)) !== 'down',
        readyTimeoutMs: 20_000,
      },
      silentLogger(),
    );
  const server: TestNatsServer = {
    url,
    port,
    storeDir,
    async start() {
      proc = make();
      await proc.start();
    },
    async stop() {
      await proc?.stop();
      proc = undefined;
    },
    async kill() {
      const pid = proc?.pid;
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
      await proc?.stop();
      proc = undefined;
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
