/** Timing helpers: every figure is operations per second, the median of a few repeats. */

export interface Row {
  scenario: string;
  subject: string;
  /** Operations per second; null when the subject was skipped. */
  opsPerSec: number | null;
  /** The raw better-sqlite3 row of the same scenario, for the ratio column. */
  baseline?: number | null;
  /**
   * The ratio to the baseline when it was measured in pairs (see `compare`); otherwise the table
   * divides the two medians.
   */
  ratio?: number;
  /** The ratio the project aims for against the baseline, e.g. 0.7. */
  target?: number;
  note?: string;
}

/** The middle value of `list` (the upper one of the two middle values when its length is even). */
const median = (list: readonly number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

export interface Measured {
  opsPerSec: number;
}

/**
 * Runs `setup` then times `run` (which performs `ops` operations) `repeats` times, each on a fresh
 * setup, and returns the median rate. `teardown` runs after every repeat.
 */
export async function measure<C>(
  ops: number,
  repeats: number,
  setup: () => Promise<C> | C,
  run: (context: C) => Promise<void> | void,
  teardown: (context: C) => Promise<void> | void = () => undefined,
): Promise<Measured> {
  const rates: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const context = await setup();
    try {
      const start = performance.now();
      await run(context);
      const ms = performance.now() - start;
      rates.push(ops / (Math.max(ms, 0.001) / 1000));
    } finally {
      await teardown(context);
    }
  }
  return { opsPerSec: median(rates) };
}

export interface Subject<C> {
  setup: () => Promise<C> | C;
  run: (context: C) => Promise<void> | void;
  teardown?: (context: C) => Promise<void> | void;
}

export interface Compared {
  /** Each subject's median rate, in order. */
  rates: number[];
  /**
   * Each subject's median, over the rounds, of its rate divided by the first subject's rate in the
   * same round: a ratio of subjects measured seconds apart, which the machine's drift over a run
   * (its speed changed by a third within some runs) moves far less than a ratio of two medians.
   */
  ratios: number[];
}

/**
 * Measures several subjects doing the same `ops` operations, alternating them repeat by repeat so
 * that a noisy machine slows each of them alike; returns each subject's median rate and its paired
 * ratio to the first subject (the baseline). With more than one repeat, a first warm-up round is
 * run and not counted.
 */
export async function compare(ops: number, repeats: number, subjects: readonly Subject<any>[]): Promise<Compared> {
  const rates: number[][] = subjects.map(() => []);
  // With several repeats, one extra first round warms the JIT up and is dropped.
  const rounds = repeats > 1 ? repeats + 1 : repeats;
  for (let i = 0; i < rounds; i++) {
    for (const [index, subject] of subjects.entries()) {
      const { opsPerSec } = await measure(ops, 1, subject.setup, subject.run, subject.teardown);
      if (rounds === repeats || i > 0) rates[index]!.push(opsPerSec);
    }
  }
  return { rates: rates.map(median), ratios: rates.map((list) => median(list.map((rate, round) => rate / rates[0]![round]!))) };
}

function formatRate(value: number | null): string {
  if (value === null) return 'skipped';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(1);
}

/** A Markdown table: scenario, subject, ops/s, ratio to raw better-sqlite3, target, note. */
export function formatTable(rows: readonly Row[]): string {
  const lines = ['| scenario | implementation | ops/s | vs raw better-sqlite3 | target | note |', '|---|---|---:|---:|---:|---|'];
  for (const row of rows) {
    const value = row.opsPerSec !== null && row.baseline ? (row.ratio ?? row.opsPerSec / row.baseline) : null;
    const ratio = value === null ? '' : `${value.toFixed(2)}x`;
    const target = row.target === undefined ? '' : `>= ${row.target.toFixed(2)}x`;
    const verdict = row.target !== undefined && value !== null ? (value >= row.target ? ' ok' : ' MISSED') : '';
    lines.push(`| ${row.scenario} | ${row.subject} | ${formatRate(row.opsPerSec)} | ${ratio} | ${target}${verdict} | ${row.note ?? ''} |`);
  }
  return lines.join('\n');
}
