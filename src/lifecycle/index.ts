import { ContactDeletedHandler, ForgetContactHandler } from './commands/contact-deleted.handler';
import { ContactsMergedHandler } from './commands/contacts-merged.handler';
import { StaffPersonDeletedHandler } from './commands/staff-person-deleted.handler';
import { LifecycleDecisions } from './decisions';
import { LifecycleFanOut } from './fan-out';
import { LifecycleResumer } from './lifecycle-resumer';

/** The contacts' lifecycle process manager: its command handlers, fan-out and start-up resumer. */
export const LIFECYCLE_PROVIDERS = [
  ContactDeletedHandler,
  ForgetContactHandler,
  StaffPersonDeletedHandler,
  ContactsMergedHandler,
  LifecycleDecisions,
  LifecycleFanOut,
  LifecycleResumer,
];

export { LifecycleFanOut } from './fan-out';
export { LifecycleResumer } from './lifecycle-resumer';
