import { createNexus } from '@nexus-store/core';
import type { SchemaLike } from '@nexus-store/core';
import { IDBDatabase as FakeIDBDatabase } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeStorage, freshFactory } from './helpers.js';

interface Lead {
  id: string;
  status: string;
  score: number;
}

const LeadSchema: SchemaLike<Lead> = {
  safeParse: (input) => ({ success: true, data: input as Lead }),
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createNexus on idbStorage (fake-indexeddb)', () => {
  it('saveAll writes every document and outbox entry in one IndexedDB transaction', async () => {
    const factory = freshFactory();
    const nexus = await createNexus({ storage: fakeStorage(factory) });
    const leads = nexus.store<Lead, string>('leads', { schema: LeadSchema, key: 'id', indexes: ['status', 'score'] });
    const transaction = vi.spyOn(FakeIDBDatabase.prototype, 'transaction');
    await leads.saveAll(Array.from({ length: 100 }, (_, i) => ({ id: `l${i}`, status: i % 2 ? 'open' : 'won', score: i })), 'high');
    expect(transaction.mock.calls.filter((call) => call[1] === 'readwrite')).toHaveLength(1);
    vi.restoreAllMocks();
    expect(await leads.count({ where: { status: 'open' } })).toBe(50);
    const top = await leads.getAll({ where: { status: 'open' }, orderBy: ['score', 'desc'], limit: 3 });
    expect(top.map((l) => l.id)).toEqual(['l99', 'l97', 'l95']);
    await nexus.close();

    // Durable: the database holds the documents and one pending high-priority mutation per item.
    const storage = fakeStorage(factory);
    await storage.open();
    expect(await storage.read((tx) => tx.countOutbox())).toEqual({ pending: 100, inflight: 0, failed: 0, conflict: 0 });
    expect(new Set((await storage.read((tx) => tx.listOutbox())).map((e) => e.priority))).toEqual(new Set(['high']));
    expect((await storage.read((tx) => tx.getDocs('leads', ['l42'])))[0]?.data).toEqual({ id: 'l42', status: 'won', score: 42 });
    await storage.close();
  });
});
