import sqlite3 from 'sqlite3';

/** How often the WAL is copied into the database file (and, with synchronous=normal, synced). */
export const CHECKPOINT_INTERVAL_MS = 1000;

/**
 * WAL checkpoints on a handle of their own, off the write path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL
 * past 1,000 pages, on the committing handle: with one writer per process
 * that is the writer, and every REGISTER and API write queued behind that
 * COMMIT waited for the copy and its fsyncs (40–200 ms stalls at 1,000
 * REGISTER/s). So every handle runs with wal_autocheckpoint = 0 and this
 * handle runs a PASSIVE checkpoint once a second: PASSIVE takes no lock a
 * writer or reader waits for, so commits go on while it copies and syncs.
 *
 * It also bounds what a power loss can take under synchronous=normal: the
 * WAL reaches the disk at each checkpoint, so about the last second of
 * commits, however quiet the database (auto-checkpoints came every 1,000
 * pages, minutes apart at a low write rate).
 */
export class SqliteCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private db: sqlite3.Database | undefined;
  /** Checkpoints that failed (the next one tries again), and the last one's WAL frames and how many of them it copied. */
  failures = 0;
  last: { log: number; checkpointed: number } | undefined;

  constructor(
    private readonly storage: string,
    private readonly intervalMs = CHECKPOINT_INTERVAL_MS,
  ) {}

  start(): void {
    this.db = new sqlite3.Database(this.storage, sqlite3.OPEN_READWRITE);
    this.db.run('PRAGMA busy_timeout = 1000');
    this.timer = setInterval(() => void this.checkpoint(), this.intervalMs);
    this.timer.unref();
  }

  /** One PASSIVE checkpoint (a failure is counted; the next tick tries again). */
  checkpoint(): Promise<void> {
    if (this.running || !this.db) return this.running ?? Promise.resolve();
    const db = this.db;
    this.running = new Promise<void>((resolve) => {
      db.get<{ log: number; checkpointed: number }>('PRAGMA wal_checkpoint(PASSIVE)', (err, row) => {
        if (err) this.failures += 1;
        else if (row) this.last = { log: row.log, checkpointed: row.checkpointed };
        resolve();
      });
    }).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Copies what is left (the file is whole without its WAL), then closes the handle. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    const db = this.db;
    this.db = undefined;
    if (!db) return;
    await new Promise<void>((resolve) => db.get('PRAGMA wal_checkpoint(PASSIVE)', () => db.close(() => resolve())));
  }
}
