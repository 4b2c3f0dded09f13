import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ManagedProcess } from './process.js';

/** One server of the local stack: where it is, and whether Shoal started it. */
export interface StackPart {
  readonly name: 'nats' | 'postgres' | 'temporal';
  /** URL or host:port clients use. */
  readonly url: string;
  /** True when something was already running and Shoal only connected to it. */
  readonly reused: boolean;
  /** Present when Shoal started the server and must stop it. */
  readonly process?: ManagedProcess;
  readonly stop?: () => Promise<void>;
}

export function findOnPath(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
