import { sqliteStorage } from '@nexus-store/sqlite';
import type { WriteTransaction } from '@nexus-store/core';
import { items, tempDir } from './fixtures.js';
import type { Item } from './fixtures.js';
async function writeLikeSave(tx: WriteTransaction, list: readonly Item[]): Promise<void> {
  const keys = list.map((it) => it.id);
  await tx.getDocs('items', keys);
  await tx.getOutboxForKeys('items', keys);
  for (const it of list) await tx.addOutbox({ mutationId: it.id, collection: 'items', key: it.id, op: 'upsert', data: it, changedFields: null, baseVersion: 0, hlc: 'h', fieldClocks: null, priority: 'normal', txId: null, status: 'pending', attempts: 0, lastError: null, conflict: null, createdAt: 0 });
  await tx.putDocs(list.map((it) => ({ collection: 'items', key: it.id, data: it, deleted: false, hlc: 'h', fieldClocks: null, syncState: 'pending' as const, server: null })));
  await tx.setMeta('hlc', 'x');
}
const out: number[] = [];
for (let rep = 0; rep < 7; rep++) {
  const data = items(1000, `r${rep}`);
  const f = tempDir();
  const s = sqliteStorage({ filename: f.file('s.db'), durability: 'normal' });
  await s.open();
  await s.write((tx) => tx.setMeta('warm', 1));
  const t = performance.now();
  await Promise.all(data.map((it) => s.write((tx) => writeLikeSave(tx, [it]))));
  out.push(Math.round(performance.now() - t));
  await s.close();
  f.remove();
}
console.log(process.env.LABEL, out.sort((a, b) => a - b).join(' '));
