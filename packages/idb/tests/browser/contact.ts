import type { SchemaLike } from '@nexus-store/core';

/** The record the browser tests save, with a hand-written schema (SchemaLike), so the page needs no zod. */
export interface Contact {
  id: string;
  name: string;
}

export const ContactSchema: SchemaLike<Contact> = {
  safeParse: (input) =>
    typeof input === 'object' && input !== null && typeof (input as Contact).id === 'string' && typeof (input as Contact).name === 'string'
      ? { success: true, data: input as Contact }
      : { success: false, error: { issues: [{ path: [], message: 'not a contact' }] } },
};
