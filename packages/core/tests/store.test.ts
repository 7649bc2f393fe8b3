import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createNexus, memoryStorage, InvalidArgumentError, ValidationError, NexusError, type LocalStorage, type WriteTransaction } from '@nexus-store/core';
import { createMemoryStorageState } from '@nexus-store/core/testing';
import { ContactSchema, device, type Contact } from './helpers.js';

describe('Store<T, ID>', () => {
  it('saves, gets, getMany, counts and deletes', async () => {
    const { nexus, contacts } = await device(undefined);
    const saved = await contacts.save({ id: 'a', name: 'Ada', score: 3 });
    expect(saved).toEqual({ id: 'a', name: 'Ada', score: 3 });
    await contacts.saveAll([{ id: 'b', name: 'Bob' }, { id: 'c', name: 'Cy' }]);
    expect(await contacts.get('a')).toEqual({ id: 'a', name: 'Ada', score: 3 });
    expect(await contacts.get('zzz')).toBeUndefined();
    expect(await contacts.getMany(['c', 'x', 'b'])).toEqual([{ id: 'c', name: 'Cy' }, undefined, { id: 'b', name: 'Bob' }]);
    expect(await contacts.count()).toBe(3);
    await contacts.delete('b');
    expect(await contacts.get('b')).toBeUndefined();
    await contacts.deleteAll(['a', 'c', 'nope']);
    expect(await contacts.count()).toBe(0);
    await nexus.close();
  });

  it('refuses an invalid item with ValidationError and writes nothing (neither document nor outbox)', async () => {
    const { nexus, contacts } = await device(undefined);
    await contacts.save({ id: 'ok', name: 'Fine' });
    const before = await nexus.pending();
    const error = await contacts.saveAll([{ id: 'x', name: 'X' }, { id: 'y', name: '' }]).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.code).toBe('VALIDATION');
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues[0].path).toEqual(['name']);
    expect(error.message).toMatch(/Nothing was written/);
    expect(await contacts.get('x')).toBeUndefined();
    expect(await nexus.pending()).toEqual(before);
    await expect(contacts.save({ id: 7 } as never)).rejects.toBeInstanceOf(ValidationError);
    await nexus.close();
  });

  it('refuses bad ids, priorities and query arguments with typed errors', async () => {
    const { nexus, contacts } = await device(undefined);
    await expect(contacts.get('')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(contacts.get('x'.repeat(600))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(contacts.save({ id: 'a', name: 'A' }, 'urgent' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(contacts.getAll({ limit: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(contacts.getAll({ where: { name: { like: 'x' } as never } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(contacts.getAll({ after: 'missing' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(contacts.getAll({ orderBy: [{ field: 'name', direction: 'asc' }] as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(contacts.getAll({ orderBy: 42 as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await contacts.count()).toBe(0);
    expect(() => nexus.store('bad name!', { schema: ContactSchema, key: 'id' })).toThrow(InvalidArgumentError);
    await nexus.close();
  });

  it('queries with equality and range filters, orderBy, limit and cursor pagination', async () => {
    const { nexus, contacts } = await device(undefined);
    const all: Contact[] = Array.from({ length: 25 }, (_, i) => ({ id: `c${String(i).padStart(2, '0')}`, name: `n${i % 7}`, score: i % 10, status: (['open', 'won', 'lost'] as const)[i % 3] }));
    await contacts.saveAll(all);
    expect((await contacts.getAll({ where: { status: 'won' } })).map((c) => c.id)).toEqual(all.filter((c) => c.status === 'won').map((c) => c.id));
    expect((await contacts.getAll({ where: { score: { gte: 7 } }, orderBy: ['score', 'desc'], limit: 3 })).map((c) => c.score)).toEqual([9, 9, 8]);
    expect(await contacts.count({ where: { status: { in: ['won', 'lost'] } } })).toBe(16);
    const pages: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await contacts.getAll({ orderBy: 'name', limit: 4, after });
      if (page.length === 0) break;
      pages.push(...page.map((c) => c.id));
      after = page[page.length - 1]!.id;
    }
    const expected = [...all].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1)).map((c) => c.id);
    expect(pages).toEqual(expected);
    await nexus.close();
  });

  it('watch and watchAll emit the current value first, then every change', async () => {
    const { nexus, contacts } = await device(undefined);
    await contacts.save({ id: 'a', name: 'A' });
    const seen = firstValueFrom(contacts.watch('a').pipe(take(3), toArray()));
    const list = firstValueFrom(contacts.watchAll({ orderBy: 'name' }).pipe(take(3), toArray()));
    await new Promise((r) => setTimeout(r, 5));
    await contacts.save({ id: 'a', name: 'A2' });
    await new Promise((r) => setTimeout(r, 5));
    await contacts.delete('a');
    expect(await seen).toEqual([{ id: 'a', name: 'A' }, { id: 'a', name: 'A2' }, undefined]);
    expect((await list).map((l) => l.map((c) => c.name))).toEqual([['A'], ['A2'], []]);
    await nexus.close();
  });

  it('transaction: writes to several stores commit all or none', async () => {
    const nexus = await createNexus({ storage: memoryStorage() });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    const calls = nexus.store<{ id: string; contactId: string; seconds: number }, string>('calls', {
      schema: ContactSchema.pick({ id: true }).extend({ contactId: ContactSchema.shape.id, seconds: ContactSchema.shape.score.unwrap() }) as never,
      key: 'id',
    });
    await nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'a', name: 'A' }, 'high');
      tx.store(calls).save({ id: 'call1', contactId: 'a', seconds: 30 });
    });
    expect(await contacts.get('a')).toBeDefined();
    expect(await calls.get('call1')).toBeDefined();
    const failing = nexus.transaction((tx) => {
      tx.store(contacts).save({ id: 'b', name: 'B' });
      tx.store(calls).save({ id: 'call2', contactId: 'b', seconds: 'long' as never });
    });
    await expect(failing).rejects.toBeInstanceOf(ValidationError);
    expect(await contacts.get('b')).toBeUndefined();
    await expect(nexus.transaction(async (tx) => {
      tx.store(contacts).save({ id: 'c', name: 'C' });
      throw new Error('app changed its mind');
    })).rejects.toThrow('app changed its mind');
    expect(await contacts.get('c')).toBeUndefined();
    expect((await nexus.pending()).map((p) => p.key).sort()).toEqual(['a', 'call1']);
    await nexus.close();
  });

  it('unawaited writes of one tick share one storage write, and each still succeeds or fails alone', async () => {
    // A storage that counts write() calls and cannot store a document keyed "bad".
    const inner = memoryStorage();
    let writes = 0;
    const bound = <T extends object>(target: T, key: PropertyKey): unknown => {
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    };
    const refusing = (tx: WriteTransaction): WriteTransaction =>
      new Proxy(tx, {
        get: (target, key) =>
          key === 'putDocs' ? (docs: Parameters<WriteTransaction['putDocs']>[0]) => (docs.some((d) => d.key === 'bad') ? Promise.reject(new Error('disk says no')) : target.putDocs(docs)) : bound(target, key),
      });
    const storage = new Proxy(inner, {
      get: (target, key) =>
        key === 'write'
          ? <R>(fn: (tx: WriteTransaction) => Promise<R>) => {
              writes++;
              return target.write((tx) => fn(refusing(tx)));
            }
          : bound(target, key),
    }) as LocalStorage;
    const nexus = await createNexus({ storage });
    const contacts = nexus.store<Contact, string>('contacts', { schema: ContactSchema, key: 'id' });
    await contacts.get('warm-up');

    const before = writes;
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => contacts.save({ id, name: id.toUpperCase() })));
    expect(writes - before).toBe(1);

    const results = await Promise.allSettled([contacts.save({ id: 'e', name: 'E' }), contacts.save({ id: 'bad', name: 'Bad' }), contacts.delete('a')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await contacts.get('e')).toEqual({ id: 'e', name: 'E' });
    expect(await contacts.get('bad')).toBeUndefined();
    expect(await contacts.get('a')).toBeUndefined();
    expect((await nexus.pending()).map((p) => p.key)).toEqual(['b', 'c', 'd', 'e']);
    await nexus.close();
  });

  it('stores exactly what JSON keeps of a record (dates, NaN, -0, undefined, sparse arrays, odd keys)', async () => {
    const nexus = await createNexus({ storage: memoryStorage() });
    const things = nexus.store<{ id: string; value?: unknown }, string>('things', { schema: z.object({ id: z.string(), value: z.any() }), key: 'id' });
    // No "constructor" key: toStrictEqual compares the constructors of two objects by identity.
    const key = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'toJSON', '0', '10')).filter((k) => k !== 'constructor');
    const values = [fc.boolean(), fc.double(), fc.integer(), fc.string(), fc.constantFrom(null, undefined, NaN, -0, Infinity)];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.anything({ key, values, withDate: true, withNullPrototype: true, withSparseArray: true, maxDepth: 3 }), async (value) => {
        const id = `t${n++}`;
        const item = { id, value };
        await things.save(item);
        expect(await things.get(id)).toStrictEqual(JSON.parse(JSON.stringify(item)));
      }),
      { numRuns: 300 },
    );
    await nexus.close();
  });

  it('stores a record as it was when save() was called, whatever the caller changes afterwards', async () => {
    const nexus = await createNexus({ storage: memoryStorage() });
    const flat = nexus.store<{ id: string; n: number }, string>('flat', { schema: z.object({ id: z.string(), n: z.number() }), key: 'id' });
    const nested = nexus.store<{ id: string; meta: { n: number } }, string>('nested', { schema: z.object({ id: z.string(), meta: z.any() }), key: 'id' });
    const whole = nexus.store<{ id: string; n: number }, string>('whole', { schema: z.custom<{ id: string; n: number }>((v) => typeof v === 'object' && v !== null), key: 'id' });
    const frozen = nexus.store<{ id: string; n: number }, string>('frozen', { schema: z.object({ id: z.string(), n: z.number() }).readonly(), key: 'id' });
    const a = { id: 'a', n: 1 };
    const b = { id: 'b', meta: { n: 1 } };
    const c = { id: 'c', n: 1 };
    const saved = Promise.all([flat.save(a), nested.save(b), whole.save(c), frozen.save({ id: 'd', n: 1 })]);
    // Changed before the write ran: the schema's output shares the nested object with b, and is c itself.
    a.n = 2;
    b.meta.n = 2;
    c.n = 2;
    const [returned] = await saved;
    returned.n = 3;
    expect(await flat.get('a')).toEqual({ id: 'a', n: 1 });
    expect(await nested.get('b')).toEqual({ id: 'b', meta: { n: 1 } });
    expect(await whole.get('c')).toEqual({ id: 'c', n: 1 });
    expect(await frozen.get('d')).toEqual({ id: 'd', n: 1 });
    await flat.save({ id: 'a', n: 4 });
    expect(await flat.get('a')).toEqual({ id: 'a', n: 4 });
    await nexus.close();
  });

  it('survives close and reopen with documents and outbox intact, and refuses use after close', async () => {
    const state = createMemoryStorageState();
    const first = await device(undefined, { state });
    await first.contacts.save({ id: 'a', name: 'A' }, 'critical');
    const clientId = first.nexus.clientId;
    await first.nexus.close();
    await expect(first.contacts.save({ id: 'b', name: 'B' })).rejects.toBeInstanceOf(NexusError);
    const second = await device(undefined, { state });
    expect(second.nexus.clientId).toBe(clientId);
    expect(await second.contacts.get('a')).toEqual({ id: 'a', name: 'A' });
    expect((await second.nexus.pending()).map((p) => [p.key, p.priority])).toEqual([['a', 'critical']]);
    await second.nexus.close();
  });
});
