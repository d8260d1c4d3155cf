// The concurrency and idempotency suite, with EventStoreDB as the event store (see on-eventstoredb.ts):
// there writers race optimistically and retry with back-off instead of queueing on a lock.
import './on-eventstoredb';
import '../../service/concurrency.spec';
