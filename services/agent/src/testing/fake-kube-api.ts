/**
 * A FAKE Kubernetes API server for tests (no real API server can run on this machine). It speaks
 * the real list/watch protocol so @kubernetes/client-node is exercised as against a cluster:
 * paged lists (`limit`/`continue`) with a list resourceVersion; `?watch=true&resourceVersion=N&
 * allowWatchBookmarks=true` answered with chunked JSON lines (ADDED, MODIFIED, DELETED,
 * BOOKMARK, and ERROR carrying a 410 Status when N is older than the retained history).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { collectionPath, type KubeKind } from '../sources/kube-kinds.js';

type Obj = {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  [k: string]: unknown;
};
interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}
interface Collection {
  readonly kind: KubeKind;
  readonly items: Map<string, Obj>;
  history: WatchEvent[];
  /** Watches from a resourceVersion below this get 410 Gone. */
  oldestRv: number;
}
interface Watcher {
  readonly path: string;
  readonly res: ServerResponse;
  readonly bookmarks: boolean;
}

export class FakeKubeApi {
  private server: Server | undefined;
  private rv = 100;
  private readonly collections = new Map<string, Collection>();
  private readonly watchers = new Set<Watcher>();
  private bookmarkTimer: NodeJS.Timeout | undefined;
  /** While false, changes are recorded but not streamed (a watch that silently stalled). */
  deliver = true;
  readonly token = 'fake-token';
  port = 0;
  /** Requests served, for assertions: `list <path>` / `watch <path> rv=<n>`. */
  readonly requests: string[] = [];

  constructor(
    kinds: readonly KubeKind[],
    private readonly bookmarkMs = 200,
  ) {
    for (const kind of kinds) {
      this.collections.set(collectionPath(kind), {
        kind,
        items: new Map(),
        history: [],
        oldestRv: 0,
      });
    }
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    this.bookmarkTimer = setInterval(() => this.sendBookmarks(), this.bookmarkMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'fake', token: this.token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    return kc;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Create or replace an object (ADDED or MODIFIED to watchers). */
  apply(kind: KubeKind, obj: Obj): number {
    const c = this.collection(kind);
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const type = c.items.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    c.items.set(key, stored);
    this.emit(c, { rv: this.rv, type, object: stored });
    return this.rv;
  }

  remove(kind: KubeKind, namespace: string | undefined, name: string): void {
    const c = this.collection(kind);
    const key = `${namespace ?? ''}/${name}`;
    const old = c.items.get(key);
    if (!old) return;
    c.items.delete(key);
    const gone = structuredClone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit(c, { rv: this.rv, type: 'DELETED', object: gone });
  }

  /** Forget history (as etcd compaction does): watches from older versions get 410 Gone. */
  compact(): void {
    for (const c of this.collections.values()) {
      c.history = [];
      c.oldestRv = this.rv;
    }
  }

  /** Send every open watch an ERROR 410 and close it, as an API server does after compaction. */
  expireWatches(): void {
    this.compact();
    for (const w of this.watchers) {
      w.res.end(line({ type: 'ERROR', object: gone(this.rv) }));
    }
    this.watchers.clear();
  }

  /** End every open watch normally (API servers do this every few minutes). */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  private collection(kind: KubeKind): Collection {
    const c = this.collections.get(collectionPath(kind));
    if (!c) throw new Error(`fake API server does not serve ${kind.kind}`);
    return c;
  }

  private emit(c: Collection, ev: WatchEvent): void {
    c.history.push(ev);
    if (!this.deliver) return;
    for (const w of this.watchers) {
      if (w.path === collectionPath(c.kind))
        w.res.write(line({ type: ev.type, object: ev.object }));
    }
  }

  private sendBookmarks(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      const c = this.collections.get(w.path)!;
      const apiVersion = c.kind.group ? `${c.kind.group}/${c.kind.version}` : c.kind.version;
      w.res.write(
        line({
          type: 'BOOKMARK',
          object: { kind: c.kind.kind, apiVersion, metadata: { resourceVersion: String(this.rv) } },
        }),
      );
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return json(res, 401, status(401, 'Unauthorized', 'no or wrong bearer token'));
    }
    const c = this.collections.get(url.pathname);
    if (!c)
      return json(res, 404, status(404, 'NotFound', `the server could not find ${url.pathname}`));
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      return this.watch(c, url, res);
    }
    this.requests.push(`list ${url.pathname}`);
    const limit = Number(url.searchParams.get('limit') ?? 0) || Infinity;
    const cont = url.searchParams.get('continue');
    const start = cont
      ? (JSON.parse(Buffer.from(cont, 'base64url').toString()) as { after: string; rv: number })
      : undefined;
    const keys = [...c.items.keys()].sort().filter((k) => !start || k > start.after);
    const page = keys.slice(0, limit);
    const listRv = start?.rv ?? this.rv;
    const more = keys.length > page.length;
    json(res, 200, {
      kind: `${c.kind.kind}List`,
      apiVersion: c.kind.group ? `${c.kind.group}/${c.kind.version}` : c.kind.version,
      metadata: {
        resourceVersion: String(listRv),
        ...(more
          ? {
              continue: Buffer.from(JSON.stringify({ after: page.at(-1), rv: listRv })).toString(
                'base64url',
              ),
            }
          : {}),
      },
      items: page.map((k) => c.items.get(k)),
    });
  }

  private watch(c: Collection, url: URL, res: ServerResponse): void {
    const from = Number(url.searchParams.get('resourceVersion') || this.rv);
    this.requests.push(`watch ${url.pathname} rv=${from}`);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (from < c.oldestRv) {
      res.end(line({ type: 'ERROR', object: gone(this.rv, from) }));
      return;
    }
    for (const ev of c.history)
      if (ev.rv > from) res.write(line({ type: ev.type, object: ev.object }));
    const w: Watcher = {
      path: url.pathname,
      res,
      bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
    };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

function line(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}

function status(code: number, reason: string, message: string) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

function gone(current: number, asked?: number) {
  return status(410, 'Expired', `too old resource version: ${asked ?? '?'} (${current})`);
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
