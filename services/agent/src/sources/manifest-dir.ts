import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Logger } from '@shoal/common';
import { resourceKey, type ObservedResource } from '../core/resource.js';
import type { ManifestProblem, ManifestValidator } from './manifest-validator.js';
import { modelValidator } from './manifest-validator.js';
import type { Source, SourceSink } from './source.js';

export interface ManifestDirOptions {
  readonly dir: string;
  readonly logger: Logger;
  readonly validator?: ManifestValidator;
  /** Full rescan period: fs.watch misses events on some file systems and on editors' renames. */
  readonly rescanMs?: number;
  /** Wait this long after a file event before rescanning, to batch an editor's burst of writes. */
  readonly debounceMs?: number;
  /** Called with each file's problems when the file is (re)read and refused. */
  readonly onProblems?: (file: string, problems: readonly ManifestProblem[]) => void;
}

interface FileState {
  readonly mtimeMs: number;
  readonly size: number;
  /** The last valid content of the file; kept while the file is broken, so nothing is deleted. */
  readonly resources: readonly ObservedResource[];
  readonly problems: readonly ManifestProblem[];
}

const YAML = /\.ya?ml$/;

/**
 * A folder of Kubernetes-style YAML (GitOps checkouts, edge sites without Kubernetes). Each scan
 * is a full listing handed to `replace`, so the agent publishes only differences and deletions.
 * A file with errors contributes its last valid content (or nothing) and its problems are reported
 * with file, line and field.
 */
export class ManifestDirSource implements Source {
  readonly name = 'manifest-dir';
  private readonly files = new Map<string, FileState>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private again = false;
  private closed = false;
  private sink: SourceSink | undefined;
  private readonly validator: ManifestValidator;
  private readonly log: Logger;

  constructor(private readonly opts: ManifestDirOptions) {
    this.validator = opts.validator ?? modelValidator;
    this.log = opts.logger.child({ component: 'manifest-dir', dir: opts.dir });
  }

  /** Problems of every file that is currently refused. */
  problems(): ManifestProblem[] {
    return [...this.files.values()].flatMap((f) => f.problems);
  }

  async start(sink: SourceSink): Promise<void> {
    this.sink = sink;
    await this.scan();
    try {
      this.watcher = watch(this.opts.dir, { recursive: true }, () => this.schedule());
      this.watcher.on('error', (err) =>
        this.log.warn({ err }, 'fs.watch failed; relying on rescans'),
      );
    } catch (err) {
      this.log.warn({ err }, 'fs.watch unavailable; relying on rescans');
    }
    this.timer = setInterval(() => this.schedule(0), this.opts.rescanMs ?? 30_000);
    this.timer.unref();
  }

  /** Rescan now and wait for it (tests, and the periodic timer). */
  rescan(): Promise<void> {
    return this.scan();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.scanning;
  }

  private schedule(delay = this.opts.debounceMs ?? 100): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.scan().catch((err: unknown) => this.log.error({ err }, 'manifest scan failed'));
    }, delay);
  }

  /** One scan at a time; a request during a scan runs one more afterwards. */
  private scan(): Promise<void> {
    if (this.again) return this.scanning;
    this.again = true;
    this.scanning = this.scanning.then(async () => {
      this.again = false;
      if (!this.closed) await this.scanOnce();
    });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const paths = await listYaml(this.opts.dir);
    const seen = new Set(paths);
    for (const file of [...this.files.keys()]) if (!seen.has(file)) this.files.delete(file);
    for (const file of paths) {
      const st = await stat(file).catch(() => undefined);
      if (!st) continue;
      const prev = this.files.get(file);
      if (prev && prev.mtimeMs === st.mtimeMs && prev.size === st.size) continue;
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const name = relative(this.opts.dir, file);
      const { resources, problems } = this.validator.parse(name, text);
      if (problems.length > 0) {
        for (const p of problems) {
          this.log.error(
            { file: p.file, line: p.line, column: p.column, field: p.field, document: p.document },
            `manifest refused: ${p.reason}; nothing from this file is published until it is fixed`,
          );
        }
        this.opts.onProblems?.(name, problems);
      }
      this.files.set(file, {
        mtimeMs: st.mtimeMs,
        size: st.size,
        resources: problems.length > 0 ? (prev?.resources ?? []) : resources,
        problems,
      });
    }
    // A file refused since start-up has no known-good content: its resources may still exist, so
    // this scan must not delete anything (an empty kind scope turns deletions off).
    const unknown = [...this.files.values()].some(
      (f) => f.problems.length > 0 && f.resources.length === 0,
    );
    const all = new Map<string, ObservedResource>();
    for (const f of [...this.files.keys()].sort()) {
      for (const r of this.files.get(f)!.resources) all.set(resourceKey(r), r);
    }
    await this.sink?.replace(unknown ? { kinds: new Set() } : 'all', [...all.values()]);
  }
}

async function listYaml(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listYaml(p)));
    else if (e.isFile() && YAML.test(e.name)) out.push(p);
  }
  return out.sort();
}
