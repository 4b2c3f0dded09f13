/**
 * The node worker as one pre-built ES module, so a worker process runs plain JavaScript instead
 * of transforming TypeScript at start-up through tsx (whose loader hooks keep a second V8
 * isolate alive in every process: tens of MB of RSS per node).
 *
 * `nodeWorkerArgs()` is what every launcher passes to `node` (tests, the bench, `npm start`'s
 * demo fleet). The bundle is built on demand and cached under node_modules/.cache/shoal/ by the
 * content hash of every source file it was built from, so a fresh clone needs no build step and
 * an edited source is rebuilt on the next launch. Only the repository's own TypeScript is
 * bundled; npm packages stay external and load from node_modules as usual.
 *
 * Run directly (`node --import tsx bundle.ts`) it builds and prints the bundle's path: esbuild's
 * plugins need its async API, which the synchronous launchers reach through a child process.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SHOAL_CACHE, pruneCache, writeCacheFile } from '@shoal/common/disk-cache';

const SELF = fileURLToPath(import.meta.url);
const REPO = resolve(import.meta.dirname, '..', '..', '..');
const ENTRY = join(import.meta.dirname, 'main.ts');
const MANIFEST = join(SHOAL_CACHE, 'node-worker.json');

/**
 * V8 sizing for a data-plane worker. A node process holds little long-lived state (config,
 * certificates, pooled sessions); its garbage is short-lived per-request objects, so the young
 * generation need not grow to V8's 16 MiB semi-spaces. Measured in the dataplane benchmark:
 * 8 MiB keeps GC at about 5% of a waypoint node's CPU and bulk HBONE throughput unchanged, with
 * about 10 MB less RSS per worker; 2 MiB saved 10 MB more but doubled GC time and cost a fifth
 * or more of HBONE throughput.
 *
 * GC on the main thread only (`--single-threaded-gc`): a worker's heap is small (25-40 MB), and
 * V8's parallel and concurrent GC helpers compete with the node's workloads for its cores and
 * each bring a thread and its malloc arena. Four interleaved benchmark pairs on 2 vCPUs: RSS
 * 107-118 MB against 117-122, waypoint p99 at 2,000 req/s 3.3-4.2 ms against 3.4-5.1, vCPU per
 * 1k req/s and bulk throughput unchanged.
 */
export const NODE_WORKER_V8_FLAGS: readonly string[] = [
  '--max-semi-space-size=8',
  '--single-threaded-gc',
];

interface Manifest {
  /** Bundle path relative to the cache directory. */
  readonly bundle: string;
  /** Input path (relative to the repository) → sha256 of its content when built. */
  readonly inputs: Record<string, string>;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The cached bundle when it was built from exactly the sources on disk now. */
function cached(): string | undefined {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  const bundle = join(SHOAL_CACHE, m.bundle);
  if (!existsSync(bundle)) return undefined;
  for (const [file, hash] of Object.entries(m.inputs)) {
    let now: string;
    try {
      now = sha256(readFileSync(join(REPO, file)));
    } catch {
      return undefined;
    }
    if (now !== hash) return undefined;
  }
  return bundle;
}

/** Path of an up-to-date bundle of services/node/src/main.ts, building it when needed. */
export function nodeBundle(): string {
  const have = cached();
  if (have) return have;
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = r.stdout?.trim();
  if (r.status !== 0 || !out)
    throw new Error(
      `could not build the node worker bundle (${SELF} exited with ${r.status ?? r.signal}): ` +
        `${r.stderr || r.error?.message || 'no output'}; run \`node --import tsx ${relative(process.cwd(), SELF)}\` to see why`,
    );
  return out;
}

/** `node` arguments that start one node worker: V8 flags and the bundle; append the flags. */
export function nodeWorkerArgs(): string[] {
  return [...NODE_WORKER_V8_FLAGS, nodeBundle()];
}

async function build(): Promise<string> {
  const { build: esbuild } = await import('esbuild');
  const res = await esbuild({
    entryPoints: [ENTRY],
    absWorkingDir: REPO,
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'silent',
    plugins: [
      {
        name: 'shoal-worker',
        setup(b) {
          // npm packages load from node_modules at run time; workspace packages (@shoal/*,
          // TypeScript sources) are bundled.
          b.onResolve({ filter: /^[^./]/ }, (a) =>
            a.path.startsWith('@shoal/') ? undefined : { path: a.path, external: true },
          );
          // import.meta in a bundled file must still describe that file (e.g. @shoal/proto
          // finds its .proto files next to itself), not the bundle.
          b.onLoad({ filter: /\.ts$/ }, (a) => ({
            loader: 'ts',
            contents: readFileSync(a.path, 'utf8')
              .replaceAll('import.meta.dirname', JSON.stringify(dirname(a.path)))
              .replaceAll('import.meta.filename', JSON.stringify(a.path))
              .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(a.path).href)),
          }));
        },
      },
    ],
  });
  const code = res.outputFiles[0]!.contents;
  const inputs: Record<string, string> = { [relative(REPO, SELF)]: sha256(readFileSync(SELF)) };
  for (const file of Object.keys(res.metafile.inputs))
    inputs[file] = sha256(readFileSync(join(REPO, file)));
  const name = `node-worker-${sha256(Buffer.from(code)).slice(0, 16)}.mjs`;
  const bundle = join(SHOAL_CACHE, name);
  // Concurrent launchers may build at once: each file is replaced whole.
  writeCacheFile(bundle, code);
  writeCacheFile(MANIFEST, JSON.stringify({ bundle: name, inputs } satisfies Manifest));
  // Older bundles: kept for a while, as a launcher may have just read their name.
  pruneCache(SHOAL_CACHE, (f) => f.startsWith('node-worker-'), bundle);
  return bundle;
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  process.stdout.write(`${await build()}\n`);
}
