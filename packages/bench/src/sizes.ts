/** How much work each scenario does. `quick` is for the smoke test; `full` is the published run. */
export interface BenchSizes {
  /**
   * Awaited single saves per repeat. Enough to pass the adapter's first WAL checkpoint (~3,300
   * saves): a shorter run measured it before any checkpoint and the WAL's first growth, neither of
   * which a long-running app sees (runs of 2,000 saves read 0.66x-0.85x, of 12,000 0.64x-0.73x).
   */
  single: number;
  /** Unawaited saves issued in one tick (group commit). */
  burst: number;
  /** Records in one saveAll / bulk call. */
  bulk: number;
  /** Records in the query dataset. */
  dataset: number;
  /** Indexed queries timed over the dataset. */
  queries: number;
  /** Records pushed by the sync benchmark. */
  sync: number;
  /** Repeats per figure (the median is printed). */
  repeats: number;
}

export const FULL: BenchSizes = { single: 12_000, burst: 1000, bulk: 10_000, dataset: 100_000, queries: 300, sync: 10_000, repeats: 5 };
export const QUICK: BenchSizes = { single: 20, burst: 50, bulk: 200, dataset: 2000, queries: 5, sync: 100, repeats: 1 };
