export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured logger: one event name and plain fields per line. */
export interface ServerLogger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface JsonLoggerOptions {
  /** Lowest level written. @default 'info' */
  level?: LogLevel;
  /** Where lines go. @default writes to process.stdout */
  write?: (line: string) => void;
  /** @default Date.now */
  now?: () => number;
}

/** Writes one JSON object per line: `{"time":..., "level":"info", "event":"push", ...fields}`. */
export function jsonLogger(options: JsonLoggerOptions = {}): ServerLogger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const log = (level: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => {
    if (RANK[level] < min) return;
    write(JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...fields }));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: ServerLogger = { debug() {}, info() {}, warn() {}, error() {} };
