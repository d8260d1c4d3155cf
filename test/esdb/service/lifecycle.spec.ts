// The contacts' lifecycle suite with EventStoreDB as the event store (see on-eventstoredb.ts): the read
// tables follow the log through the subscription, so planning waits for them to reach the log's head.
import './on-eventstoredb';
import '../../lifecycle/lifecycle.spec';
