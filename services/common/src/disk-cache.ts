/**
 * The repository's cache of derived files that later processes reuse (the node worker bundle,
 * the parsed protobuf schema): node_modules/.cache/shoal, so a fresh `npm ci` starts it over.
 * A subpath of its own (`@shoal/common/disk-cache`): launchers load it without the package's
 * logging and metrics.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const SHOAL_CACHE = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  'node_modules',
  '.cache',
  'shoal',
);

/**
 * Write `data` to `file` so that a process reading it at the same time (several may start at
 * once) sees the old content or the new, never half: written aside, then renamed into place.
 */
export function writeCacheFile(file: string, data: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * Remove the files of `dir` that `stale` names, except `keep`, once they are `maxAgeMs` old: a
 * process that has just looked up their name may still be about to read them.
 */
export function pruneCache(
  dir: string,
  stale: (name: string) => boolean,
  keep: string,
  maxAgeMs = 3600_000,
): void {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (!stale(f) || p === keep) continue;
    if (Date.now() - statSync(p).mtimeMs > maxAgeMs) rmSync(p, { force: true });
  }
}
