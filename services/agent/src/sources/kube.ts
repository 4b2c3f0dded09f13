import http from 'node:http';
import https from 'node:https';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@shoal/common';
import { CLUSTER_SCOPE, normalizeObject, type ObservedResource } from '../core/resource.js';
import { KubeApiError } from '../errors.js';
import { collectionPath, DEFAULT_KUBE_KINDS, type KubeKind } from './kube-kinds.js';
import type { Source, SourceSink } from './source.js';

export interface KubeSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly kinds?: readonly KubeKind[];
  /** List page size (`limit`); the API server pages with `continue`. */
  readonly pageSize?: number;
  /** Wait between retries after an error that is not 410 Gone. */
  readonly retryMs?: number;
  /** How long `start` waits for the first listing of every kind before going on in background. */
  readonly initialListTimeoutMs?: number;
}

interface KubeObject {
  readonly kind?: string;
  readonly metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  readonly [k: string]: unknown;
}

interface KubeList {
  readonly metadata?: { resourceVersion?: string; continue?: string };
  readonly items?: KubeObject[];
}

/** Thrown inside the watch loop when the stored resourceVersion is too old (410 Gone). */
class Gone extends Error {}

/**
 * Lists and watches Kubernetes resources with @kubernetes/client-node: list (paged) → replace,
 * then watch from the list's resourceVersion with bookmarks; ADDED/MODIFIED → upsert,
 * DELETED → delete. A 410 Gone (as a watch ERROR event or an HTTP status) means the version is
 * no longer in the API server's window: list again, and the agent's diff turns the gap into
 * exactly the changes that were missed.
 */
export class KubeSource implements Source {
  readonly name = 'kube';
  private readonly log: Logger;
  private readonly kinds: readonly KubeKind[];
  private readonly watch: Watch;
  private readonly aborts = new Set<AbortController>();
  private loops: Promise<void>[] = [];
  private closed = false;
  /** Per kind: resourceVersion to resume the watch from ('' = list first). */
  readonly resourceVersions = new Map<string, string>();
  /** Count of lists per kind (the first one plus one per 410 or failed watch). */
  readonly listCounts = new Map<string, number>();

  constructor(private readonly opts: KubeSourceOptions) {
    this.log = opts.logger.child({ component: 'kube-source' });
    this.kinds = opts.kinds ?? DEFAULT_KUBE_KINDS;
    this.watch = new Watch(opts.kubeConfig);
  }

  async start(sink: SourceSink): Promise<void> {
    const firstLists = this.kinds.map(() => {
      let done!: () => void;
      return { promise: new Promise<void>((r) => (done = r)), done: () => done() };
    });
    this.loops = this.kinds.map((kind, i) => this.run(kind, sink, firstLists[i]!.done));
    const timeout = this.opts.initialListTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(firstLists.map((f) => f.promise)),
      new Promise<void>((r) => (timer = setTimeout(r, timeout))),
    ]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const a of this.aborts) a.abort();
    await Promise.all(this.loops);
  }

  private async run(kind: KubeKind, sink: SourceSink, listed: () => void): Promise<void> {
    const log = this.log.child({ kind: kind.kind });
    while (!this.closed) {
      try {
        if (!this.resourceVersions.get(kind.kind)) {
          const { items, resourceVersion } = await this.list(kind);
          this.listCounts.set(kind.kind, (this.listCounts.get(kind.kind) ?? 0) + 1);
          await sink.replace({ kinds: new Set([kind.kind]) }, items);
          this.resourceVersions.set(kind.kind, resourceVersion);
          log.debug({ count: items.length, resourceVersion }, 'listed');
        }
        listed();
        await this.watchOnce(kind, sink);
      } catch (err) {
        if (err instanceof Gone) {
          log.info('resourceVersion expired (410 Gone): listing again');
          this.resourceVersions.set(kind.kind, '');
          continue;
        }
        if (this.closed) break;
        const status = (err as KubeApiError).details?.status;
        if (status === 404) {
          log.warn('kind not served by this cluster (CRD not installed?); checking again later');
          listed(); // nothing to list is a complete listing for start-up purposes
        } else {
          log.warn({ err }, 'list/watch failed; retrying');
        }
        await this.sleep(status === 404 ? 60_000 : (this.opts.retryMs ?? 1000));
      }
    }
  }

  /** One watch connection, until the server closes it (then resume) or it fails. */
  private watchOnce(kind: KubeKind, sink: SourceSink): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending: Promise<void> = Promise.resolve();
      let gone = false;
      const onEvent = (type: string, obj: KubeObject) => {
        if (type === 'ERROR') {
          const code = (obj as { code?: number }).code;
          if (code === 410) gone = true;
          else this.log.warn({ kind: kind.kind, status: obj }, 'watch error event');
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (type === 'ADDED' || type === 'MODIFIED') {
          const r = toObserved(kind, obj);
          pending = pending.then(() => sink.upsert(r));
        } else if (type === 'DELETED') {
          const r = toObserved(kind, obj);
          pending = pending.then(() => sink.delete(r));
        }
        // BOOKMARK carries only a newer resourceVersion: resume from it after a reconnect.
        if (rv) pending = pending.then(() => void this.resourceVersions.set(kind.kind, rv));
      };
      const onDone = (err: unknown) => {
        void pending.then(() => {
          this.aborts.delete(controller);
          const status = (err as { statusCode?: number; code?: number } | null)?.statusCode;
          if (gone || status === 410) reject(new Gone());
          else if (err && !this.closed && (err as Error).name !== 'AbortError')
            reject(new KubeApiError(collectionPath(kind), status ?? 0, String(err), err));
          else resolve();
        }, reject);
      };
      const controller = new AbortController();
      this.aborts.add(controller);
      this.watch
        .watch(
          collectionPath(kind),
          {
            resourceVersion: this.resourceVersions.get(kind.kind) ?? '',
            allowWatchBookmarks: true,
          },
          onEvent,
          onDone,
        )
        .then((req) => {
          this.aborts.delete(controller);
          const real = req as AbortController;
          this.aborts.add(real);
          if (this.closed) real.abort();
        }, onDone);
    });
  }

  private async list(
    kind: KubeKind,
  ): Promise<{ items: ObservedResource[]; resourceVersion: string }> {
    const items: ObservedResource[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const q = new URLSearchParams({ limit: String(this.opts.pageSize ?? 500) });
      if (cont) q.set('continue', cont);
      const page = await this.get<KubeList>(`${collectionPath(kind)}?${q.toString()}`);
      for (const obj of page.items ?? []) items.push(toObserved(kind, obj));
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return { items, resourceVersion };
  }

  /** GET with the kubeconfig's TLS and credentials (the client library applies them). */
  private async get<T>(path: string): Promise<T> {
    const server = this.opts.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new KubeApiError(path, 0, 'the kubeconfig has no current cluster');
    const url = new URL(server + path);
    const opts: https.RequestOptions = {};
    await this.opts.kubeConfig.applyToHTTPSOptions(opts);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(url, { ...opts, method: 'GET' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 410) return reject(new Gone());
          if (res.statusCode !== 200) {
            return reject(new KubeApiError(path, res.statusCode ?? 0, body.slice(0, 300)));
          }
          try {
            resolve(JSON.parse(body) as T);
          } catch (err) {
            reject(new KubeApiError(path, 200, 'answer is not JSON', err));
          }
        });
      });
      req.on('error', (err) => reject(new KubeApiError(path, 0, err.message, err)));
      req.end();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const controller = new AbortController();
      const t = setTimeout(() => {
        this.aborts.delete(controller);
        resolve();
      }, ms);
      controller.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
      this.aborts.add(controller);
    });
  }
}

function toObserved(kind: KubeKind, obj: KubeObject): ObservedResource {
  const meta = obj.metadata ?? {};
  const full = {
    apiVersion: kind.group ? `${kind.group}/${kind.version}` : kind.version,
    kind: kind.kind,
    ...obj,
  };
  return {
    kind: kind.kind,
    namespace: kind.namespaced ? (meta.namespace ?? 'default') : CLUSTER_SCOPE,
    name: meta.name ?? '',
    spec: normalizeObject(full),
    ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
  };
}
