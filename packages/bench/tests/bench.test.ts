import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { QUICK, formatTable, runBench } from '@nexus-store/bench';

describe('bench harness', () => {
  it('formats rows as a Markdown table with ratios to the raw baseline and target verdicts', () => {
    const table = formatTable([
      { scenario: 's', subject: 'raw', opsPerSec: 1000, baseline: 1000 },
      { scenario: 's', subject: 'fast', opsPerSec: 800, baseline: 1000, target: 0.7 },
      { scenario: 's', subject: 'slow', opsPerSec: 500, baseline: 1000, target: 0.7 },
      { scenario: 's', subject: 'peer', opsPerSec: null, baseline: 1000, note: 'skipped: cannot load' },
      { scenario: 'm', subject: 'micro', opsPerSec: 12.345 },
    ]);
    const lines = table.split('\n');
    expect(lines[0]).toBe('| scenario | implementation | ops/s | vs raw better-sqlite3 | target | note |');
    expect(lines[2]).toBe('| s | raw | 1,000 | 1.00x |  |  |');
    expect(lines[3]).toBe('| s | fast | 800 | 0.80x | >= 0.70x ok |  |');
    expect(lines[4]).toBe('| s | slow | 500 | 0.50x | >= 0.70x MISSED |  |');
    expect(lines[5]).toBe('| s | peer | skipped |  |  | skipped: cannot load |');
    expect(lines[6]).toBe('| m | micro | 12.3 |  |  |  |');
  });

  it('runs every scenario end to end with tiny sizes (smoke test, not a measurement)', async () => {
    const result = await runBench({ sizes: QUICK });
    const scenarios = new Set(result.rows.map((row) => row.scenario));
    expect([...scenarios].map((s) => s.split(' (')[0]!.replace(/[\d,]+/g, 'N'))).toEqual([
      'awaited single save',
      'awaited single save',
      'N unawaited save()',
      'saveAll of N records',
      'getAll where indexed field = value over N records',
      'sync of N records to createMemoryRemote',
      'memoryStorage micro-benchmarks',
    ]);
    for (const row of result.rows) {
      if (row.opsPerSec === null) expect(row.note, row.subject).toMatch(/^skipped: /);
      else expect(row.opsPerSec, `${row.scenario} / ${row.subject}`).toBeGreaterThan(0);
    }
    const nexusRows = result.rows.filter((row) => row.subject.startsWith('nexus-store'));
    expect(nexusRows.length).toBeGreaterThanOrEqual(6);
    for (const peer of ['PouchDB', 'RxDB', 'Dexie', 'raw idb']) expect(result.rows.some((row) => row.subject.startsWith(peer)), peer).toBe(true);
    expect(result.machine).toMatch(/Node v\d+/);
    expect(result.table.split('\n')).toHaveLength(result.rows.length + 2);
  }, 120_000);

  it('npm run bench runs the scenarios bundled as the published packages are (no TypeScript loader, names not kept)', () => {
    const dir = fileURLToPath(new URL('..', import.meta.url));
    const output = execFileSync(process.execPath, ['--import', 'tsx', 'src/runStorage.ts', '--quick'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(output).toContain('| scenario | implementation | ops/s | vs raw better-sqlite3 | target | note |');
    expect(output).toMatch(/\| nexus-store store\.save\(\) \(sqlite, durability 'normal'\) \| [\d,]+ \|/);
    // What ran is plain JavaScript with nexus-store's own code in it, and without esbuild's __name wrappers.
    const bundled = readFileSync(`${dir}/.workers/run.mjs`, 'utf8');
    expect(bundled).toContain('var SqliteStorage = class');
    expect(bundled).not.toContain('__name(');
  }, 120_000);
});
