import { ContactDirectory, StaffDirectory } from '../ports/directories';

/** Internal injection tokens: the module's own resources, built from its options. */
export const DATABASE = Symbol.for('crm-interactions:DATABASE');
/** Where the read queries go: the read replica when there is one, else DATABASE. */
export const READ_DATABASE = Symbol.for('crm-interactions:READ_DATABASE');
export const EVENT_STORE = Symbol.for('crm-interactions:EVENT_STORE');
export const DIRECTORIES = Symbol.for('crm-interactions:DIRECTORIES');

export interface Directories {
  contacts: ContactDirectory;
  staff: StaffDirectory | null;
}
