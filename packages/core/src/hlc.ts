/**
 * Hybrid logical clock. A timestamp is `wall:counter:node` with fixed-width fields, so plain string
 * comparison orders timestamps: by physical time, then counter, then node id (the tie-break that
 * makes every comparison total and every device agree).
 *
 * A device whose wall clock is behind still orders its writes after everything it has seen
 * (`receive` pulls the clock forward), so last-write-wins follows causality, not skewed clocks.
 */
const WALL_WIDTH = 15;
const COUNTER_WIDTH = 6;

export function formatHlc(wall: number, counter: number, node: string): string {
  return `${String(wall).padStart(WALL_WIDTH, '0')}:${String(counter).padStart(COUNTER_WIDTH, '0')}:${node}`;
}

/** formatHlc with the wall part cached: ticks within one millisecond reuse it. */
function makeFormatter(node: string): (wall: number, counter: number) => string {
  let lastWall = -1;
  let prefix = '';
  const suffix = `:${node}`;
  return (wall, counter) => {
    if (wall !== lastWall) {
      lastWall = wall;
      prefix = `${String(wall).padStart(WALL_WIDTH, '0')}:`;
    }
    return prefix + String(counter).padStart(COUNTER_WIDTH, '0') + suffix;
  };
}

export function parseHlc(hlc: string): { wall: number; counter: number; node: string } | undefined {
  const first = hlc.indexOf(':');
  const second = hlc.indexOf(':', first + 1);
  if (first !== WALL_WIDTH || second !== WALL_WIDTH + COUNTER_WIDTH + 1) return undefined;
  const wall = Number(hlc.slice(0, first));
  const counter = Number(hlc.slice(first + 1, second));
  if (!Number.isSafeInteger(wall) || !Number.isSafeInteger(counter)) return undefined;
  return { wall, counter, node: hlc.slice(second + 1) };
}

/** Orders two HLC strings; unparseable or empty strings sort first. */
export function compareHlc(a: string | null | undefined, b: string | null | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxHlc(a: string | null | undefined, b: string | null | undefined): string {
  return compareHlc(a, b) >= 0 ? (a ?? '') : (b ?? '');
}

export class HybridLogicalClock {
  private wall = 0;
  private counter = 0;
  private readonly format: (wall: number, counter: number) => string;

  constructor(
    private readonly node: string,
    private readonly now: () => number,
    last?: string,
  ) {
    if (node.includes(':')) throw new Error('HLC node id must not contain ":"');
    this.format = makeFormatter(node);
    if (last) this.receive(last);
  }

  /** A new timestamp for a local event, greater than every timestamp issued or received before. */
  tick(): string {
    const physical = this.now();
    if (physical > this.wall) {
      this.wall = physical;
      this.counter = 0;
    } else {
      this.counter++;
    }
    return this.format(this.wall, this.counter);
  }

  /** Moves the clock past a timestamp seen from elsewhere. */
  receive(remote: string): void {
    const parsed = parseHlc(remote);
    if (!parsed) return;
    if (parsed.wall > this.wall) {
      this.wall = parsed.wall;
      this.counter = parsed.counter;
    } else if (parsed.wall === this.wall && parsed.counter > this.counter) {
      this.counter = parsed.counter;
    }
  }

  /** Physical part of the latest timestamp, in ms. */
  get wallTime(): number {
    return this.wall;
  }

  /** The latest timestamp issued or received (without advancing). */
  get last(): string {
    return this.format(this.wall, this.counter);
  }
}

type FieldData = Record<string, unknown> | null | undefined;
const hasOwn = (data: FieldData, field: string) => !!data && Object.prototype.hasOwnProperty.call(data, field);

/**
 * Field clocks are stored compactly: a field present in the data without an entry was last written
 * at the record's own `hlc`; entries are kept only for fields written earlier, and for removed fields.
 * This returns the full map: every present field, and every removed field that has an entry.
 */
export function expandFieldClocks(data: FieldData, hlc: string, clocks: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = clocks ? { ...clocks } : {};
  if (data) for (const field in data) if (out[field] === undefined) out[field] = hlc;
  return out;
}

/** The compact form of a full field-clock map (see expandFieldClocks); null when nothing differs. */
export function compactFieldClocks(data: FieldData, hlc: string, clocks: Record<string, string>): Record<string, string> | null {
  let out: Record<string, string> | null = null;
  for (const field in clocks) {
    const clock = clocks[field]!;
    if (clock === hlc && hasOwn(data, field)) continue;
    (out ??= {})[field] = clock;
  }
  return out;
}
