import { describe, expect, it } from 'vitest';
import { SYNC_QUICK, combineRounds, formatSyncTable, runSyncBench } from '@nexus-store/bench';
import type { SyncPhase, SyncSubjectResult } from '@nexus-store/bench';

function phase(records: number, seconds: number, pulled = 0): SyncPhase {
  return { records, seconds, clientRssMiB: 100, serverRssMiB: 120, run: { ms: seconds * 1000, pushed: 0, pulled } };
}

describe('sync bench', () => {
  it('formats the table with ratios to the hand-written pair and PouchDB and honest target verdicts', () => {
    const sizes = { ...SYNC_QUICK, records: 100_000, incremental: 1000 };
    const subjects: SyncSubjectResult[] = [
      { subject: 'nexus', label: 'nexus', pull: phase(100_000, 10), push: phase(100_000, 40, 100_000), incremental: phase(1000, 0.08) },
      { subject: 'raw', label: 'raw', pull: phase(100_000, 5), push: phase(100_000, 5), incremental: phase(1000, 0.01) },
      { subject: 'pouch', label: 'pouch', skipped: 'skipped: cannot load' },
    ];
    const lines = formatSyncTable(subjects, sizes, { ...phase(1_000_000, 100), clientRssMiB: 300 }).split('\n');
    expect(lines).toHaveLength(2 + 9 + 1);
    expect(lines[2]).toBe('| initial pull of 100,000 records into an empty client | nexus | 10,000 | 10.00 s | 100 MiB | 120 MiB | 0.50x |  | >= 0.5x hand-written ok; client RSS <= 150 MB ok |');
    expect(lines[4]).toBe('| initial pull of 100,000 records into an empty client | pouch | skipped |  |  |  |  |  | skipped: cannot load |');
    expect(lines[5]).toContain('| 0.13x |  | >= 0.5x hand-written MISSED; client RSS <= 150 MB ok; (sync() also pulled back 100,000 own records) |');
    expect(lines[8]).toContain('| 80 ms |');
    expect(lines[8]).toContain('<= 60 ms MISSED');
    expect(lines[11]).toContain('client RSS <= 250 MB MISSED');
  });

  it('prints each phase of several rounds as its median run with the highest peak RSS, and runs the rounds in alternating order', async () => {
    const round = (push: number, pull: number, rss: number): SyncSubjectResult => ({
      subject: 'nexus', label: 'nexus', push: { ...phase(100_000, push), clientRssMiB: rss }, pull: phase(100_000, pull), incremental: phase(1000, 0.01), idleClientRssMiB: rss / 2,
    });
    const combined = combineRounds([round(3, 1, 110), round(9, 2, 100), round(4, 8, 130)]);
    expect([combined.push!.seconds, combined.push!.clientRssMiB, combined.pull!.seconds, combined.idleClientRssMiB]).toEqual([4, 130, 2, 65]);
    expect(combineRounds([round(1, 1, 1), { subject: 'pouch', label: 'pouch', skipped: 'skipped: no' }]).skipped).toBe('skipped: no');
    const log: string[] = [];
    const result = await runSyncBench({ sizes: { ...SYNC_QUICK, rounds: 3 }, subjects: ['nexus', 'raw'], log: (line) => log.push(line) });
    expect(log.filter((line) => /^round|queued$/.test(line))).toEqual([
      'round 1 of 3', 'nexus: 300 records queued', 'raw: 300 records queued',
      'round 2 of 3', 'raw: 300 records queued', 'nexus: 300 records queued',
      'round 3 of 3', 'nexus: 300 records queued', 'raw: 300 records queued',
    ]);
    expect(result.machine).toContain('3 rounds in alternating order');
    expect(result.subjects.map((s) => s.push!.run.pushed)).toEqual([300, 300]);
  });

  it('runs push, initial pull and incremental pull of every implementation end to end in quick mode (smoke test, not a measurement)', async () => {
    const result = await runSyncBench({ sizes: SYNC_QUICK, bigPull: 500 });
    expect(result.subjects.map((s) => s.subject)).toEqual(['nexus', 'raw', 'pouch']);
    for (const subject of result.subjects) {
      if (subject.skipped) {
        // Only the peer may be skipped, and then with its reason.
        expect(subject.subject).toBe('pouch');
        expect(subject.skipped).toMatch(/^skipped: /);
        continue;
      }
      expect(subject.push!.run.pushed, subject.subject).toBe(SYNC_QUICK.records);
      expect(subject.pull!.run.pulled, subject.subject).toBe(SYNC_QUICK.records);
      expect(subject.incremental!.run.pulled, subject.subject).toBe(SYNC_QUICK.incremental);
      for (const p of [subject.push!, subject.pull!, subject.incremental!]) {
        expect(p.seconds).toBeGreaterThan(0);
        expect(p.clientRssMiB).toBeGreaterThan(10);
        expect(p.serverRssMiB).toBeGreaterThan(10);
      }
    }
    expect(result.bigPull!.run.pulled).toBe(500);
    expect(result.table.split('\n')).toHaveLength(2 + 9 + 1);
    expect(result.machine).toMatch(/batchSize 100, pullLimit 100/);
    expect(result.notes).toMatch(/^Idle client process/);
  }, 240_000); // ~10 s alone; under the full parallel `npm test` on two cores it took over 90 s
});
