import { StorageError } from '@nexus-store/core';

/** One physical transaction as the group commit sees it. */
export interface PhysicalTransaction<Scope> {
  /** A fresh view of the transaction for one callback. */
  scope(): Scope;
  abort(): void;
  /** Settles when the transaction commits (resolves) or aborts (rejects). */
  readonly done: Promise<void>;
}

export interface GroupCommitOptions<Scope> {
  /** Starts a physical transaction; may throw (for example when the database is closed). */
  begin(): PhysicalTransaction<Scope>;
  /** Translates a failure of the transaction itself (begin, commit) into the error callers see. */
  mapError(error: unknown): unknown;
  /** Called after a group committed, with the scopes of its callbacks. */
  committed(scopes: readonly Scope[]): void;
  /** @default 1000 */
  maxGroupSize?: number;
}

interface Pending<Scope> {
  run(scope: Scope): Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Run alone: its group failed at commit and each member now gets its own transaction. */
  solo: boolean;
}

/**
 * Group commit: every callback submitted in the same tick (and while a group is running) runs, one
 * after the other, in one physical transaction, and each resolves once that transaction committed.
 * When a callback throws, the transaction is aborted, that callback alone is rejected, and the others
 * run again in a new transaction (the LocalStorage contract lets an adapter re-run callbacks). When
 * the commit itself fails, or a callback fails with a StorageError (which may come from another
 * callback's failed request), every member is retried alone, so each gets its own outcome.
 */
export class GroupCommit<Scope> {
  private queue: Pending<Scope>[] = [];
  private draining: Promise<void> | null = null;
  private scheduled = false;

  constructor(private readonly options: GroupCommitOptions<Scope>) {}

  submit<R>(run: (scope: Scope) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject, solo: false });
      this.schedule();
    });
  }

  /** Resolves when every submitted callback has settled. */
  async idle(): Promise<void> {
    for (;;) {
      if (this.draining) await this.draining;
      else if (this.scheduled) await Promise.resolve();
      else return;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.draining) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.draining = this.drain().finally(() => {
        this.draining = null;
        if (this.queue.length > 0) this.schedule();
      });
    });
  }

  private async drain(): Promise<void> {
    const max = this.options.maxGroupSize ?? 1000;
    while (this.queue.length > 0) {
      const group = this.queue[0]!.solo ? this.queue.splice(0, 1) : this.takeGroup(max);
      await this.runGroup(group);
    }
  }

  private takeGroup(max: number): Pending<Scope>[] {
    let n = 0;
    while (n < this.queue.length && n < max && !this.queue[n]!.solo) n++;
    return this.queue.splice(0, n);
  }

  private async runGroup(group: Pending<Scope>[]): Promise<void> {
    let tx: PhysicalTransaction<Scope>;
    try {
      tx = this.options.begin();
    } catch (error) {
      const mapped = this.options.mapError(error);
      for (const p of group) p.reject(mapped);
      return;
    }
    // A callback that awaits something else than its transaction lets IndexedDB commit early.
    let committedEarly = false;
    tx.done.then(
      () => (committedEarly = true),
      () => undefined,
    );
    const scopes: Scope[] = [];
    const results: unknown[] = [];
    const settleCommitted = (count: number) => {
      group.slice(0, count).forEach((p, j) => p.resolve(results[j]));
      if (count > 0) this.options.committed(scopes.slice(0, count));
    };
    for (let i = 0; i < group.length; i++) {
      if (committedEarly) {
        settleCommitted(i);
        this.queue.unshift(...group.slice(i));
        return;
      }
      const scope = tx.scope();
      try {
        results.push(await group[i]!.run(scope));
        scopes.push(scope);
      } catch (error) {
        if (committedEarly) {
          // This callback outlived its transaction; what ran before it is durable.
          settleCommitted(i);
          group[i]!.reject(error);
          this.queue.unshift(...group.slice(i + 1));
          return;
        }
        try {
          tx.abort();
        } catch {
          // Already finished (committed or aborted by a failed request): nothing to undo here.
        }
        await tx.done.catch(() => undefined);
        if (group.length > 1 && error instanceof StorageError) {
          this.queue.unshift(...group.map((p) => ({ ...p, solo: true })));
        } else {
          group[i]!.reject(error);
          this.queue.unshift(...group.filter((_, j) => j !== i));
        }
        return;
      }
    }
    try {
      await tx.done;
    } catch (error) {
      if (group.length === 1) group[0]!.reject(this.options.mapError(error));
      else this.queue.unshift(...group.map((p) => ({ ...p, solo: true })));
      return;
    }
    group.forEach((p, i) => p.resolve(results[i]));
    this.options.committed(scopes);
  }
}
