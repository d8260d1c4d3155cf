import { AppendProjection } from '../../src/adapters/postgres/postgres-event-store';
import { appendProjection } from '../../projections/interactions.projection';

/** The inline projection's part of an append's statement, as the module wires it, for a store without erasure. */
export const plainAppendProjection: AppendProjection = async (_tx, streamName, drafts, gate, row) =>
  appendProjection(streamName, drafts, gate === undefined ? undefined : { gate, row });
