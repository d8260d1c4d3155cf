// Replay equivalence with EventStoreDB as the event store (see on-eventstoredb.ts). A rebuild replays the
// whole log, so it needs a log of its own: the protocol test server, not a shared KURRENTDB_URL.
import './on-eventstoredb';
import { KURRENTDB_URL } from '../support';

if (KURRENTDB_URL) {
  it.skip('replay equivalence (needs a log of its own; runs on the protocol test server)', () => undefined);
} else {
  require('../../service/replay.spec');
}
