// Late linking (linkParty, findUnresolvedParties) with EventStoreDB as the event store (see on-eventstoredb.ts).
import './on-eventstoredb';
import '../../service/late-linking.spec';
