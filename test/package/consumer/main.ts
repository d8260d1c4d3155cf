// A host's code against the installed package: it must type-check strictly, library types included.
import {
  FeedPage,
  InteractionConflictError,
  InteractionCounts,
  InteractionsMetrics,
  InteractionsModule,
  InteractionsService,
  InteractionValidationError,
  feedCursorOf,
} from 'crm-interactions';

export const wiring = InteractionsModule.forRoot({
  database: { connectionString: 'postgres://localhost/crm' },
  contactDirectory: { findContacts: async (uuids: string[]) => uuids.map((uuid) => ({ uuid, name: 'Ada' })) },
});

export async function historyTab(service: InteractionsService, contactUuid: string): Promise<InteractionCounts> {
  const page: FeedPage = { limit: 50, types: ['call', 'email'], occurredFrom: '2026-01-01', search: 'renewal' };
  const first = await service.listInvolving(contactUuid, page);
  const last = first[first.length - 1];
  if (last) await service.listInvolving(contactUuid, { ...page, after: feedCursorOf(last) });
  try {
    await service.updateInteraction(first[0]!.uuid, { subject: 'Renewal' }, null, { expectedVersion: first[0]!.version });
  } catch (error) {
    if (error instanceof InteractionConflictError || error instanceof InteractionValidationError) throw error;
  }
  return service.countInvolving(contactUuid, { types: page.types });
}

export const scrape = (metrics: InteractionsMetrics): Promise<string> => metrics.registry.metrics();
