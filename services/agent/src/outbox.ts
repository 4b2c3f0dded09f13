import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { EventEnvelope } from './core/envelope.js';
import type { Ledger, LedgerEntry } from './core/resource.js';
import { OutboxCorruptError } from './errors.js';

/**
 * The agent's write-ahead buffer. Every event is appended here (and fsynced) before it is
 * published, online or not, so one code path covers "NATS is down", "the agent restarts while
 * offline" and "the agent is killed mid-flush". Records live in segment files; each record is
 * `[u32 length][u32 crc32][JSON]`, so a torn tail after a crash is detected and cut off. A cursor
 * file holds the last sequence JetStream acknowledged. A ledger snapshot (what was reported per
 * resource) lets old segments be deleted; ledger = snapshot + the records after it.
 *
 * Why files and not a local NATS leaf node: a leaf node is one more server to install, configure
 * and supervise on every edge site, and its JetStream domain would have to be mirrored upstream
 * (with its own permissions). The buffer here is ~300 lines, needs nothing but a folder, and
 * the exactly-once hand-off is the same Nats-Msg-Id de-duplication either way.
 */

export interface OutboxInput {
  readonly subject: string;
  readonly envelope: EventEnvelope;
  /** Effect on the ledger: set the entry, or (null) remove it. Absent for non-resource events. */
  readonly ledger?: { readonly key: string; readonly entry: LedgerEntry | null };
}

export interface OutboxRecord extends OutboxInput {
  readonly seq: number;
}

export interface OutboxOptions {
  readonly maxSegmentBytes?: number;
}

const HEADER = 8;
const SEGMENT = /^(\d{16})\.seg$/;
const segName = (firstSeq: number) => `${String(firstSeq).padStart(16, '0')}.seg`;

interface Segment {
  readonly firstSeq: number;
  readonly file: string;
}

export class Outbox {
  private pendingList: OutboxRecord[] = [];
  private head = 0;
  private lastSeqValue: number;
  private ackedSeqValue: number;
  private current: { seg: Segment; fh: FileHandle; size: number } | undefined;
  private maintenance: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly segments: Segment[],
    acked: number,
    lastSeq: number,
    private ledgerSeq: number,
    private readonly opts: Required<OutboxOptions>,
  ) {
    this.ackedSeqValue = acked;
    this.lastSeqValue = lastSeq;
  }

  /** Open (or create) the buffer in `dir`, repair a torn tail, and rebuild the ledger. */
  static async open(
    dir: string,
    opts: OutboxOptions = {},
  ): Promise<{ outbox: Outbox; ledger: Ledger }> {
    await mkdir(dir, { recursive: true });
    const acked = await readJson<{ acked: number }>(join(dir, 'cursor'), { acked: 0 });
    const snap = await readJson<{ seq: number; entries: [string, string, string?][] }>(
      join(dir, 'ledger.json'),
      { seq: 0, entries: [] },
    );
    const ledger: Ledger = new Map(
      snap.entries.map(([k, hash, rv]) => [
        k,
        rv === undefined ? { hash } : { hash, resourceVersion: rv },
      ]),
    );
    const names = (await readdir(dir)).filter((n) => SEGMENT.test(n)).sort();
    const segments = names.map((n) => ({
      firstSeq: Number(SEGMENT.exec(n)![1]),
      file: join(dir, n),
    }));
    const records: OutboxRecord[] = [];
    for (let i = 0; i < segments.length; i++) {
      records.push(...(await readSegment(segments[i]!.file, i === segments.length - 1)));
    }
    let lastSeq = Math.max(acked.acked, snap.seq);
    for (const r of records) {
      lastSeq = Math.max(lastSeq, r.seq);
      if (r.seq > snap.seq && r.ledger) {
        if (r.ledger.entry) ledger.set(r.ledger.key, r.ledger.entry);
        else ledger.delete(r.ledger.key);
      }
    }
    const outbox = new Outbox(dir, segments, acked.acked, lastSeq, snap.seq, {
      maxSegmentBytes: opts.maxSegmentBytes ?? 8 * 1024 * 1024,
    });
    outbox.pendingList = records.filter((r) => r.seq > acked.acked);
    return { outbox, ledger };
  }

  /** Records not yet acknowledged by JetStream, oldest first. */
  pending(limit = Infinity): readonly OutboxRecord[] {
    return this.pendingList.slice(this.head, limit === Infinity ? undefined : this.head + limit);
  }

  get pendingCount(): number {
    return this.pendingList.length - this.head;
  }

  get lastSeq(): number {
    return this.lastSeqValue;
  }

  get ackedSeq(): number {
    return this.ackedSeqValue;
  }

  /** Append records and fsync once (group commit). Resolves when they are durable. */
  async append(inputs: readonly OutboxInput[]): Promise<OutboxRecord[]> {
    if (inputs.length === 0) return [];
    const records = inputs.map((input, i) => ({ ...input, seq: this.lastSeqValue + 1 + i }));
    const cur = await this.segmentFor(records[0]!.seq);
    const buf = Buffer.concat(records.map(encode));
    await cur.fh.write(buf, 0, buf.length, cur.size);
    await cur.fh.datasync();
    cur.size += buf.length;
    this.lastSeqValue += records.length;
    this.pendingList.push(...records);
    return records;
  }

  /** JetStream acknowledged everything up to `seq`: persist the cursor atomically. */
  async ack(seq: number): Promise<void> {
    if (seq <= this.ackedSeqValue) return;
    await writeAtomic(join(this.dir, 'cursor'), JSON.stringify({ acked: seq }));
    this.ackedSeqValue = seq;
    while (this.head < this.pendingList.length && this.pendingList[this.head]!.seq <= seq)
      this.head++;
    if (this.head > 4096 && this.head * 2 > this.pendingList.length) {
      this.pendingList = this.pendingList.slice(this.head);
      this.head = 0;
    }
    await this.prune();
  }

  /** Snapshot the ledger as of `lastSeq`, so acknowledged segments can be deleted. */
  async saveLedger(ledger: Ledger): Promise<void> {
    const seq = this.lastSeqValue;
    const entries = [...ledger].map(([k, e]) =>
      e.resourceVersion === undefined ? [k, e.hash] : [k, e.hash, e.resourceVersion],
    );
    await writeAtomic(join(this.dir, 'ledger.json'), JSON.stringify({ seq, entries }));
    this.ledgerSeq = Math.max(this.ledgerSeq, seq);
    await this.prune();
  }

  async close(): Promise<void> {
    await this.maintenance;
    await this.current?.fh.close();
    this.current = undefined;
  }

  private async segmentFor(seq: number): Promise<{ seg: Segment; fh: FileHandle; size: number }> {
    if (this.current && this.current.size < this.opts.maxSegmentBytes) return this.current;
    if (this.current) await this.current.fh.close();
    const last = this.segments.at(-1);
    let seg: Segment;
    if (!this.current && last) {
      seg = last; // reopen the tail segment after a restart and keep appending to it
    } else {
      seg = { firstSeq: seq, file: join(this.dir, segName(seq)) };
      this.segments.push(seg);
    }
    const fh = await open(seg.file, 'a+');
    const size = (await fh.stat()).size;
    await syncDir(this.dir);
    this.current = { seg, fh, size };
    return this.current;
  }

  /** Delete segments fully covered by both the cursor and the ledger snapshot. */
  private prune(): Promise<void> {
    this.maintenance = this.maintenance.then(async () => {
      const covered = Math.min(this.ackedSeqValue, this.ledgerSeq);
      while (this.segments.length > 1) {
        const [first, next] = [this.segments[0]!, this.segments[1]!];
        if (next.firstSeq - 1 > covered || first === this.current?.seg) break;
        await rm(first.file, { force: true });
        this.segments.shift();
      }
    });
    return this.maintenance;
  }
}

function encode(r: OutboxRecord): Buffer {
  const body = Buffer.from(JSON.stringify(r), 'utf8');
  const head = Buffer.alloc(HEADER);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(crc32(body), 4);
  return Buffer.concat([head, body]);
}

/** Read a segment; a torn or corrupt tail of the last segment is cut off (a crash mid-write). */
async function readSegment(file: string, isLast: boolean): Promise<OutboxRecord[]> {
  const buf = await readFile(file);
  const out: OutboxRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const problem = (() => {
      if (off + HEADER > buf.length) return 'truncated header';
      const len = buf.readUInt32LE(off);
      if (off + HEADER + len > buf.length) return 'truncated record';
      const body = buf.subarray(off + HEADER, off + HEADER + len);
      if (crc32(body) !== buf.readUInt32LE(off + 4)) return 'checksum mismatch';
      out.push(JSON.parse(body.toString('utf8')) as OutboxRecord);
      off += HEADER + len;
      return undefined;
    })();
    if (problem === undefined) continue;
    if (!isLast) throw new OutboxCorruptError(file, off, problem);
    const fh = await open(file, 'r+');
    try {
      await fh.truncate(off);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    break;
  }
  return out;
}

async function readJson<T>(file: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw err;
  }
}

/** Write-to-temp, fsync, rename, fsync the folder: the file is either old or new after a crash. */
async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(content);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(join(file, '..'));
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
