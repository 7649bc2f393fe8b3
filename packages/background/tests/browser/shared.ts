import { createNexus, type Nexus } from '@nexus-store/core';
import { httpRemote } from '@nexus-store/http';
import { idbStorage } from '@nexus-store/idb';

export interface Contact {
  id: string;
  name: string;
}

const contactSchema = {
  safeParse(input: unknown) {
    const value = input as Partial<Contact> | null;
    if (value && typeof value.id === 'string' && typeof value.name === 'string') return { success: true as const, data: value as Contact };
    return { success: false as const, error: { issues: [{ path: [], message: 'id and name are required' }] } };
  },
};

/** The same nexus in the page and in the service worker: one IndexedDB database, one client id. */
export async function openNexus(origin: string): Promise<{ nexus: Nexus; contacts: ReturnType<Nexus['store']> }> {
  const nexus = await createNexus({ storage: idbStorage({ name: 'crm' }), remote: httpRemote({ url: origin, token: 'test-token' }), clientId: 'browser1' });
  const contacts = nexus.store<Contact, string>('contacts', { schema: contactSchema, key: 'id' });
  return { nexus, contacts: contacts as unknown as ReturnType<Nexus['store']> };
}
