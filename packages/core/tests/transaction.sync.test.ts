import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createNexus, memoryStorage } from '@nexus-store/core';
import { createMemoryRemote } from '@nexus-store/core/testing';
import { ContactSchema, device, fakeClock, type Contact } from './helpers.js';

const CallSchema = z.object({ id: z.string(), contactId: z.string(), seconds: z.number() });

describe('transactions and auto-sync', () => {
  it("a transaction's mutations travel in one push batch, even beyond batchSize", async () => {
    const remote = createMemoryRemote();
    const nexus = await createNexus({ storage: memoryStorage(), remote, batchSize: 2 });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    const calls = nexus.store<z.infer<typeof CallSchema>, string>('calls', { schema: CallSchema, key: 'id' });
    await contacts.save({ id: 'before', name: 'x' }, 'critical');
    await nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'c1', name: 'Ann' });
      tx.store(calls).saveAll([
        { id: 'k1', contactId: 'c1', seconds: 10 },
        { id: 'k2', contactId: 'c1', seconds: 20 },
      ]);
      tx.store(contacts).save({ id: 'c2', name: 'Ben' });
    });
    await contacts.save({ id: 'after', name: 'y' }, 'low');
    await nexus.sync();
    const batches = remote.pushes.map((b) => b.map((m) => m.key));
    const txBatch = batches.find((b) => b.includes('c1'))!;
    expect(txBatch).toEqual(expect.arrayContaining(['c1', 'k1', 'k2', 'c2']));
    const txIds = new Set(remote.pushes.flat().filter((m) => ['c1', 'k1', 'k2', 'c2'].includes(m.key)).map((m) => m.txId));
    expect(txIds.size).toBe(1);
    expect([...txIds][0]).toEqual(expect.any(String));
    expect(remote.records().filter((r) => !r.deleted)).toHaveLength(6);
    await nexus.close();
  });

  it('autoSync with intervalMs syncs on the interval of the injected clock', async () => {
    const clock = fakeClock();
    const remote = createMemoryRemote();
    const writer = await device(remote, { clock });
    const reader = await device(remote, { clock, autoSync: { intervalMs: 60_000, onWrite: false, live: false } });
    await new Promise((r) => setTimeout(r, 5));
    await writer.contacts.save({ id: '1', name: 'A' });
    await writer.nexus.sync();
    expect(await reader.contacts.get('1')).toBeUndefined();
    await clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 10));
    expect(await reader.contacts.get('1')).toEqual({ id: '1', name: 'A' });
    await writer.nexus.close();
    await reader.nexus.close();
  });
});
