/** The package root: everything a host imports (docs/contract.md "Module wiring"). */
export { InteractionsModule } from './nest/interactions.module';
export { InteractionsService } from './nest/interactions.service';
export { InteractionsMaintenance } from './nest/interactions.maintenance';
export type { InteractionStats, InteractionsHealth, ParkedEvent } from './nest/interactions.maintenance';
export type { RetrySummary } from '../projections/catch-up';
export type { InteractionsModuleOptions, InteractionsModuleAsyncOptions, PostgresServer } from './nest/options';
export {
  CreateInteractionCommand,
  UpdateInteractionCommand,
  DeleteInteractionCommand,
  GetInteractionQuery,
  GetInteractionAsOfQuery,
  ListInvolvingQuery,
  ListForContactsQuery,
  InteractionUuidsForContactQuery,
  ChangeInteractionQuery,
  InteractionHistoryQuery,
  InteractionLogged,
  InteractionUpdated,
  PartiesRebuilt,
  InteractionDeleted,
} from './nest/messages';
export type { CommandOptions, InvolvingPage, InteractionWithContact, ChangeResult } from './nest/messages';
// Observability: Prometheus metrics (a registry of the module's own) and OpenTelemetry spans
export { InteractionsMetrics } from './nest/metrics';
export { TRACER_NAME } from './observability/tracing';
// Feeds, filters and counts
export { ListRecentQuery, CountInvolvingQuery, CountInteractionsQuery } from './nest/messages';
export type { FeedPage, FeedFilters, InteractionCounts } from './nest/messages';
// Late linking
export { LinkPartyCommand, FindUnresolvedPartiesQuery, PartyLinked } from './nest/messages';
export type { UnresolvedParty } from './nest/messages';
export { PartyLinkedSchema } from './domain/events';
export { partyNameKey, emailKeysIn } from './domain/party-keys';
// Contacts' lifecycle: deletion and merge
export {
  ContactDeletedCommand,
  StaffPersonDeletedCommand,
  ContactsMergedCommand,
  ForgetContactCommand,
  PartiesUnlinked,
  ContactRepointed,
} from './nest/messages';
export type { LifecycleResult } from './nest/messages';
export { PartiesUnlinkedSchema, ContactRepointedSchema } from './domain/events';
export { feedCursorOf } from './nest/feed-cursor';
export type { PGliteInstance } from './ports/database';
export {
  InteractionValidationError,
  InteractionNotFoundError,
  InteractionConflictError,
  InteractionUnavailableError,
  InteractionUnreadableError,
} from './domain/errors';
export { InteractionProjectionTimeoutError } from './nest/read-your-writes';
export type { FieldErrors } from './domain/errors';
export {
  ERASED,
  INTERACTION_TYPES,
  involvedContactUuids,
} from './domain/interaction';
export type {
  Interaction,
  InteractionType,
  InteractionAttrs,
  Party,
  PartyInput,
  PartySnapshot,
  ContactRecord,
  StaffRecord,
  JsonObject,
} from './domain/interaction';
export {
  InteractionLoggedSchema,
  InteractionUpdatedSchema,
  PartiesRebuiltSchema,
  InteractionDeletedSchema,
  EVENT_SCHEMAS,
  parseEvent,
  registerUpcaster,
  unregisterUpcaster,
  CURRENT_SCHEMA_VERSION,
  InvalidEventError,
  streamNameOf,
} from './domain/events';
export type { InteractionEvent, InteractionEventType, EventUpcaster } from './domain/events';
export { CONTACT_DIRECTORY, STAFF_DIRECTORY } from './ports/directories';
export type { ContactDirectory, StaffDirectory } from './ports/directories';
export type { RecordedEvent, EventMetadata, Position } from './ports/event-store';
