import { ContactRecord, StaffRecord } from '../domain/interaction';

/** Ports the host provides (docs/contract.md "Directories"). */
export interface ContactDirectory {
  findContacts(uuids: string[]): Promise<ContactRecord[]>;
}

export interface StaffDirectory {
  findStaff(uuids: string[]): Promise<StaffRecord[]>;
}

export const CONTACT_DIRECTORY = Symbol.for('crm-interactions:CONTACT_DIRECTORY');
export const STAFF_DIRECTORY = Symbol.for('crm-interactions:STAFF_DIRECTORY');
