import { FindUnresolvedPartiesHandler } from './find-unresolved-parties.handler';
import { LinkPartyHandler } from './link-party.handler';

/** The handlers of late linking (`linkParty`, `findUnresolvedParties`), registered by the module. */
export const LATE_LINKING_HANDLERS = [LinkPartyHandler, FindUnresolvedPartiesHandler];
