import { describe, expectTypeOf, it } from 'vitest';
import type { Observable } from 'rxjs';
import { z } from 'zod';
import { createNexus, memoryStorage, type Store, type SyncState } from '@nexus-store/core';

const Contact = z.object({ id: z.string(), name: z.string(), age: z.number().optional() });
type Contact = z.infer<typeof Contact>;
const Numbered = z.object({ n: z.number(), label: z.string() });
type Numbered = z.infer<typeof Numbered>;

describe('Store<T, ID> types', async () => {
  const nexus = await createNexus({ storage: memoryStorage() });
  const contacts = nexus.store<Contact, string>('contacts', { schema: Contact, key: 'id' });
  const numbered = nexus.store<Numbered, number>('numbered', { schema: Numbered, key: 'n' });

  it('get returns T | undefined and getAll T[]', () => {
    expectTypeOf(contacts).toEqualTypeOf<Store<Contact, string>>();
    expectTypeOf(contacts.get('x')).resolves.toEqualTypeOf<Contact | undefined>();
    expectTypeOf(contacts.getMany(['x'])).resolves.toEqualTypeOf<(Contact | undefined)[]>();
    expectTypeOf(contacts.getAll()).resolves.toEqualTypeOf<Contact[]>();
    expectTypeOf(contacts.watch('x')).toEqualTypeOf<Observable<Contact | undefined>>();
    expectTypeOf(contacts.syncState('x')).resolves.toEqualTypeOf<SyncState | undefined>();
    expectTypeOf(numbered.get).parameter(0).toEqualTypeOf<number>();
  });

  it('save refuses a wrong shape at compile time', () => {
    expectTypeOf(contacts.save).parameter(0).toEqualTypeOf<Contact>();
    // @ts-expect-error name must be a string
    void contacts.save({ id: 'a', name: 42 });
    // @ts-expect-error id is required
    void contacts.save({ name: 'no id' });
    // @ts-expect-error unknown priority
    void contacts.save({ id: 'a', name: 'A' }, 'urgent');
    // @ts-expect-error the id type is string
    void contacts.get(1);
  });

  it('key must name a field of T holding the id type', () => {
    nexus.store<Contact, string>('c2', { schema: Contact, key: (c) => c.id });
    // @ts-expect-error not a field of Contact
    nexus.store<Contact, string>('c3', { schema: Contact, key: 'nope' });
    // @ts-expect-error age is a number, not the string id
    nexus.store<Contact, string>('c4', { schema: Contact, key: 'age' });
    // @ts-expect-error queries name fields of T
    void contacts.getAll({ where: { unknownField: 1 } });
    // @ts-expect-error orderBy names fields of T
    void contacts.getAll({ orderBy: 'nope' });
  });
});
