import { ContactRecord, StaffRecord } from '../../src/domain/interaction';
import { ContactDirectory, StaffDirectory } from '../../src/ports/directories';

/** In-memory directories standing in for the host's CRM tables; they record what was asked. */
export class InMemoryContactDirectory implements ContactDirectory {
  readonly contacts = new Map<string, ContactRecord>();
  readonly calls: string[][] = [];

  add(contact: ContactRecord): ContactRecord {
    this.contacts.set(contact.uuid, contact);
    return contact;
  }

  async findContacts(uuids: string[]): Promise<ContactRecord[]> {
    this.calls.push(uuids);
    return uuids.flatMap((uuid) => {
      const contact = this.contacts.get(uuid);
      return contact ? [{ ...contact }] : [];
    });
  }
}

export class InMemoryStaffDirectory implements StaffDirectory {
  readonly staff = new Map<string, StaffRecord>();

  add(person: StaffRecord): StaffRecord {
    this.staff.set(person.uuid, person);
    return person;
  }

  async findStaff(uuids: string[]): Promise<StaffRecord[]> {
    return uuids.flatMap((uuid) => {
      const person = this.staff.get(uuid);
      return person ? [{ ...person }] : [];
    });
  }
}
