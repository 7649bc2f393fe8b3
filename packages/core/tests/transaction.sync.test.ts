import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createNexus, memoryStorage, NetworkError, type RemoteBackend } from '@nexus-store/core';
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

  it("a batch that takes in the members of two transactions beyond its size still goes in push order", async () => {
    const remote = createMemoryRemote();
    const nexus = await createNexus({ storage: memoryStorage(), remote, batchSize: 2, autoSync: false });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    await nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'a1', name: 'a1' }, 'critical');
      tx.store(contacts).save({ id: 'a2', name: 'a2' }, 'low');
    });
    await nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'b1', name: 'b1' }, 'critical');
      tx.store(contacts).save({ id: 'b2', name: 'b2' }, 'normal');
    });
    await nexus.sync();
    // a1 and b1 fill the batch; a2 and b2 join it with their transactions, each in its place.
    expect(remote.pushes.map((b) => b.map((m) => m.key))).toEqual([['a1', 'b1', 'b2', 'a2']]);
    await nexus.close();
  });

  it("a transaction waits whole while one of its records has an earlier entry ahead of it, also one in flight", async () => {
    const remote = createMemoryRemote();
    let down = true;
    let atServer: (() => void) | null = null;
    const gated: RemoteBackend = {
      pull: (c, l, o) => remote.pull(c, l, o),
      async push(mutations, options) {
        if (down) throw new NetworkError('NETWORK', 'offline');
        if (atServer === null && mutations.some((m) => m.key === 'held')) await new Promise<void>((resolve) => (atServer = resolve));
        return remote.push(mutations, options);
      },
    };
    const nexus = await createNexus({ storage: memoryStorage(), remote: gated, batchSize: 10, autoSync: false });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    // x's first entry was sent once (a failed push), so the transaction's write of x is a second entry.
    await contacts.save({ id: 'x', name: 'x1' });
    await expect(nexus.sync()).rejects.toMatchObject({ code: 'NETWORK' });
    down = false;
    await nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'x', name: 'x2' });
      tx.store(contacts).save({ id: 'y', name: 'y' });
    });
    // And a record in flight: while 'held' is at the server, a transaction writes it and z.
    await contacts.save({ id: 'held', name: 'h1' });
    const syncing = nexus.sync();
    await vi.waitFor(() => expect(atServer).not.toBeNull());
    await nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'held', name: 'h2' });
      tx.store(contacts).save({ id: 'z', name: 'z' });
    });
    atServer!();
    await syncing;
    await nexus.sync();
    const batches = remote.pushes.map((b) => b.map((m) => `${m.key}:${(m.data as Contact).name}`));
    for (const members of [['x:x2', 'y:y'], ['held:h2', 'z:z']]) {
      expect(batches.filter((b) => members.some((m) => b.includes(m)))).toEqual([expect.arrayContaining(members)]);
    }
    expect(remote.get('contacts', 'x')?.data).toEqual({ id: 'x', name: 'x2' });
    expect(remote.get('contacts', 'held')?.data).toEqual({ id: 'held', name: 'h2' });
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
