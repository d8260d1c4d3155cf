import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as GoogleEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import * as shared from '@eventstore/db-client/generated/shared_pb';
import * as streams from '@eventstore/db-client/generated/streams_pb';
import { IStreamsServer, StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import * as features from '@eventstore/db-client/generated/serverfeatures_pb';
import {
  IServerFeaturesServer,
  ServerFeaturesService,
} from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import * as status from '@eventstore/db-client/generated/status_pb';
import * as gossip from '@eventstore/db-client/generated/gossip_pb';
import { GossipService, IGossipServer } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { allows, AppendOutcome, EventLog, Expected, ProposedEvent, StoredEvent } from './log';
import {
  appendWrongExpectedVersion,
  caughtUpResponse,
  checkpointResponse,
  confirmationResponse,
  eventResponse,
  expectedOfAppend,
  expectedOfBatch,
  proposedEvent,
  readPlan,
  ReadPlan,
  rpcError,
  streamIdentifier,
  streamNameOf,
  streamNotFoundResponse,
  uuidOf,
  wrongExpectedVersionDetails,
} from './messages';

/**
 * A server that speaks the EventStoreDB/KurrentDB gRPC protocol for the calls @eventstore/db-client makes
 * for this module: ServerFeatures.GetSupportedMethods (asked once per connection, to pick BatchAppend),
 * Streams.Append, Streams.BatchAppend, and Streams.Read for streams and `$all` (forwards and backwards,
 * with or without a filter, counted reads and catch-up subscriptions that go live). The log is in memory
 * and survives `kill()`/`restart()` of the gRPC server, so a test can take the server away under a
 * running subscription and bring it back. Appends time out as a node's do (the client's deadline, capped
 * by the node's write timeout, or a write that took longer than it), `delayAppends` makes them slow or
 * lost so tests can meet that, and `kill`/`close` end in-flight calls as a node going away does. As a
 * member of an `EsdbTestCluster` (cluster.ts) it also answers Gossip.Read, and a node that is not the
 * leader refuses what requires the leader (`NotLeader` with the leader's address), forwards other writes
 * to the leader, and is "not ready" while the cluster has none. Reads with `resolveLinkTos` resolve link
 * events (`$>`). Not covered: Delete/Tombstone, persistent subscriptions, projections, users, TLS and ACLs
 * (README: "What the test server does not implement").
 */

export interface TestServerOptions {
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Announced by ServerFeatures. */
  serverVersion?: string;
  /** Writes one system event (`$test-server` stream) first, so `$all` holds something that is not the module's. */
  seedSystemEvent?: boolean;
  /**
   * The node's write timeout: an append not done within it (or within the client's deadline, if sooner)
   * is answered Timeout, even when its write lands (a write that took longer than it, or a held one).
   * Default 2000, as EventStoreDB's `WriteTimeoutMs` (and its prepare/commit timeouts).
   */
  writeTimeoutMs?: number;
  /** Every append is held this long before it is written and answered (a slow disk); default 0. */
  appendDelayMs?: number;
  /** The log, when nodes share one (a cluster's replicated log); default a log of its own. */
  log?: EventLog;
  /** The node's cluster; default none (a single node, always the leader, no Gossip service). */
  cluster?: ClusterMembership;
}

/** What a node knows of its cluster (see cluster.ts). */
export interface ClusterMembership {
  /** The leader; null while the cluster has none (an election). */
  leader(): EsdbTestServer | null;
  /** The members as Gossip.Read reports them. */
  gossip(): gossip.ClusterInfo;
}

/** Where a node sends an append or a read: itself, the leader, or back to the client. */
type Route =
  | { kind: 'here' }
  | { kind: 'forward'; leader: EsdbTestServer }
  | { kind: 'not-leader'; leader: EsdbTestServer }
  | { kind: 'not-ready' };

/** What a slow or failing node does to the next appends (see `EsdbTestServer.delayAppends`). */
export interface AppendDelay {
  /** How long the node holds the append before answering it. */
  ms: number;
  /**
   * When its events reach the log: 'after' the hold (default: a slow write, which lands even when the
   * client was already told Timeout), 'before' it (written at once, only the answer is late), or 'never'
   * (lost: only a Timeout or the shutdown answers it).
   */
  write?: 'before' | 'after' | 'never';
  /** How many appends it holds; default 1, Infinity until `clearAppendDelays`. */
  times?: number;
  /** Only appends to this stream; default any. */
  streamName?: string;
  /** Called as an append is held, so a test can act while it is in flight. */
  onHeld?: (streamName: string) => void;
}

/** How a held append ends: written (or refused) with an outcome, or out of time. */
type AppendAnswer = AppendOutcome | 'timeout';

const SERVER_VERSION = '24.10.0';
const WRITE_TIMEOUT_MS = 2000;

export class EsdbTestServer {
  private server: grpc.Server | null = null;
  private readonly running = new Set<AbortController>();
  /**
   * What ends each held append, each Append still receiving its events, and each open BatchAppend call,
   * when the node goes away.
   */
  private readonly held = new Set<() => void>();
  private readonly receiving = new Set<() => void>();
  private readonly batchCalls = new Set<() => void>();
  private readonly delays: Array<Required<Omit<AppendDelay, 'streamName' | 'onHeld'>> & AppendDelay> = [];
  private boundPort = 0;
  /** Requests this node received (whether it served, forwarded or refused them), and its NotLeader refusals. */
  readonly calls = { appends: 0, reads: 0, notLeader: 0 };

  private constructor(
    private readonly options: Required<Omit<TestServerOptions, 'log' | 'cluster'>>,
    readonly log: EventLog,
    private readonly cluster: ClusterMembership | null,
  ) {}

  static async start(options: TestServerOptions = {}): Promise<EsdbTestServer> {
    const server = new EsdbTestServer(
      {
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        serverVersion: options.serverVersion ?? SERVER_VERSION,
        seedSystemEvent: options.seedSystemEvent ?? true,
        writeTimeoutMs: options.writeTimeoutMs ?? WRITE_TIMEOUT_MS,
        appendDelayMs: options.appendDelayMs ?? 0,
      },
      options.log ?? new EventLog(),
      options.cluster ?? null,
    );
    if (server.options.appendDelayMs > 0) server.delayAppends({ ms: server.options.appendDelayMs, times: Infinity });
    if (server.options.seedSystemEvent) {
      server.log.append(
        '$test-server',
        [
          {
            id: randomUUID(),
            type: '$TestServerStarted',
            contentType: 'application/json',
            data: Buffer.from(JSON.stringify({ version: server.options.serverVersion })),
            metadata: new Uint8Array(),
          },
        ],
        { kind: 'any' },
      );
    }
    await server.listen(server.options.port);
    return server;
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.options.host;
  }

  /** What a client passes to `EventStoreDBClient.connectionString`. */
  get connectionString(): string {
    return `esdb://${this.options.host}:${this.boundPort}?tls=false`;
  }

  get isRunning(): boolean {
    return this.server !== null;
  }

  /** Reads, subscriptions and BatchAppend calls still open (a client that closed cleanly leaves none). */
  get openCalls(): number {
    return this.running.size;
  }

  /**
   * Holds the next appends (Append and BatchAppend alike) as `delay` says. Several delays queue: each
   * append takes the first that matches its stream.
   */
  delayAppends(delay: AppendDelay): void {
    this.delays.push({ write: 'after', times: 1, ...delay });
  }

  clearAppendDelays(): void {
    this.delays.length = 0;
  }

  /** Appends held right now (their write or their answer still to come). */
  get heldAppends(): number {
    return this.held.size;
  }

  /** Append calls whose request is still arriving (the client has not ended its stream of events). */
  get receivingAppends(): number {
    return this.receiving.size;
  }

  /**
   * Drops every connection at once, as a crashed or unplugged server would; the log is kept. In-flight
   * appends end as a node going away ends them: Append UNAVAILABLE (held, or still sending its events: a
   * real client sees the connection drop), each BatchAppend call CANCELLED; a held append that was not
   * written yet never is.
   */
  async kill(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await this.endInFlight();
    this.abortAll();
    server.forceShutdown();
  }

  /** Listens again on the same port, with the same log. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen(this.boundPort);
  }

  /** Ends open reads and subscriptions and stops listening. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await this.endInFlight();
    this.abortAll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private abortAll(): void {
    for (const controller of this.running) controller.abort();
    this.running.clear();
  }

  /**
   * Ends what is in flight with the shutdown's statuses and, when appends were held, lets those reach the
   * client (an idle BatchAppend call is simply cut, as before: the client then finds no connection).
   */
  private async endInFlight(): Promise<void> {
    const appending = this.held.size + this.receiving.size > 0;
    const ends = [...this.held, ...this.receiving, ...this.batchCalls];
    this.held.clear();
    this.receiving.clear();
    this.batchCalls.clear();
    for (const end of ends) end();
    if (appending) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** The delay the next append to `streamName` takes, if any (counting it off). */
  private takeDelay(streamName: string): AppendDelay | null {
    const index = this.delays.findIndex((delay) => delay.streamName === undefined || delay.streamName === streamName);
    if (index < 0) return null;
    const delay = this.delays[index]!;
    if (--delay.times <= 0) this.delays.splice(index, 1);
    return delay;
  }

  /**
   * Writes an append, at once or held as a delay says. `answer` is called once: with the outcome, or with
   * 'timeout' when `timeoutMs` passes first (a held write still lands afterwards as its delay says, as on a
   * node whose write was queued), or when the write itself took longer than `timeoutMs` (it stays written:
   * a node answers Timeout when its commit outlasts the timeout, e.g. a huge append under a 1 ms timeout).
   * `onShutdown` answers it if the node goes away first.
   */
  private submit(
    streamName: string,
    events: ProposedEvent[],
    expected: Expected,
    timeoutMs: number,
    answer: (result: AppendAnswer) => void,
    onShutdown: () => void,
  ): void {
    if (timeoutMs <= 0) return answer('timeout'); // a node refuses what is already late, before writing it
    const deadline = performance.now() + timeoutMs;
    const inTime = (outcome: AppendOutcome): AppendAnswer => (performance.now() > deadline ? 'timeout' : outcome);
    const delay = this.takeDelay(streamName);
    if (!delay) return answer(inTime(this.log.append(streamName, events, expected)));
    const write = delay.write ?? 'after';
    const early = write === 'before' ? this.log.append(streamName, events, expected) : null;
    let answered = false;
    let holdDone = false;
    // Held until both its write (or loss) and its answer are done.
    const reply = (result: AppendAnswer) => {
      if (answered) return;
      answered = true;
      clearTimeout(timeout);
      if (holdDone) this.held.delete(shutdown);
      answer(result);
    };
    // Node gone: a write still held is lost; an append not answered yet gets the shutdown's status.
    const shutdown = () => {
      clearTimeout(hold);
      clearTimeout(timeout);
      if (!answered) onShutdown();
      answered = true;
    };
    // The timeout answers; the hold goes on, so a write may land after its Timeout (as a queued write does).
    const timeout = setTimeout(() => reply('timeout'), Math.min(timeoutMs, 2 ** 31 - 1));
    const hold = setTimeout(() => {
      holdDone = true;
      const outcome = write === 'after' ? this.log.append(streamName, events, expected) : early;
      if (outcome) reply(inTime(outcome));
      if (answered) this.held.delete(shutdown);
    }, delay.ms);
    this.held.add(shutdown);
    delay.onHeld?.(streamName);
  }

  private async listen(port: number): Promise<void> {
    const server = new grpc.Server();
    server.addService(ServerFeaturesService, this.serverFeatures());
    server.addService(StreamsService, this.streamsService());
    if (this.cluster) server.addService(GossipService, this.gossipService());
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.options.host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.server = server;
  }

  /** An abort signal for a call: aborted when the client cancels or the server stops. */
  private track(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>): AbortController {
    const controller = new AbortController();
    this.running.add(controller);
    const done = () => {
      controller.abort();
      this.running.delete(controller);
    };
    call.on('cancelled', done);
    call.on('close', () => this.running.delete(controller));
    return controller;
  }

  /**
   * Where a request goes, as on a cluster node: the leader serves it; another node refuses what requires
   * the leader (`requires-leader` header) with the leader's address, forwards other writes to it, and is
   * not ready while there is no leader. A single node is always the leader.
   */
  private route(requiresLeader: boolean): Route {
    if (!this.cluster) return { kind: 'here' };
    const leader = this.cluster.leader();
    if (leader === this) return { kind: 'here' };
    if (!leader) return { kind: 'not-ready' };
    return requiresLeader ? { kind: 'not-leader', leader } : { kind: 'forward', leader };
  }

  private notLeader(leader: EsdbTestServer): grpc.ServiceError {
    this.calls.notLeader++;
    return notLeaderError(leader);
  }

  private gossipService(): IGossipServer {
    return {
      read: (_call, callback) =>
        this.stopping ? callback(rpcError(grpc.status.UNAVAILABLE, 'Server is shutting down')) : callback(null, this.cluster!.gossip()),
    };
  }

  private serverFeatures(): IServerFeaturesServer {
    const version = this.options.serverVersion;
    return {
      getSupportedMethods: (_call, callback) => {
        // What this server implements, named as real servers name them (lower case).
        const method = (service: string, name: string, featureList: string[] = []) =>
          new features.SupportedMethod().setServiceName(service).setMethodName(name).setFeaturesList(featureList);
        callback(
          null,
          new features.SupportedMethods()
            .setEventStoreServerVersion(version)
            .setMethodsList([
              method('event_store.client.server_features.serverfeatures', 'getsupportedmethods'),
              method('event_store.client.streams.streams', 'read', ['position', 'events']),
              method('event_store.client.streams.streams', 'append'),
              method('event_store.client.streams.streams', 'batchappend', ['deadline_duration']),
              ...(this.cluster ? [method('event_store.client.gossip.gossip', 'read')] : []),
            ]),
        );
      },
    };
  }

  /** Between `kill`/`close` and the end of the shutdown: calls that still arrive find the node going. */
  private get stopping(): boolean {
    return this.server === null;
  }

  private streamsService(): IStreamsServer {
    const goingAway = () => rpcError(grpc.status.UNAVAILABLE, 'Server is shutting down');
    return {
      read: (call) => {
        if (this.stopping) return void call.emit('error', goingAway());
        const controller = this.track(call);
        this.read(call, controller.signal).then(
          () => {
            if (!controller.signal.aborted) call.end();
          },
          (error: unknown) => {
            if (!controller.signal.aborted) call.emit('error', asServiceError(error));
          },
        );
      },
      append: (call, callback) => (this.stopping ? callback(goingAway()) : this.append(call, callback)),
      batchAppend: (call) => (this.stopping ? void call.emit('error', goingAway()) : this.batchAppend(call)),
      delete: (_call, callback) => callback(rpcError(grpc.status.UNIMPLEMENTED, 'Delete is not implemented by the test server')),
      tombstone: (_call, callback) =>
        callback(rpcError(grpc.status.UNIMPLEMENTED, 'Tombstone is not implemented by the test server')),
    };
  }

  // ---- Read ---------------------------------------------------------------------------------------

  private async read(call: grpc.ServerWritableStream<streams.ReadReq, streams.ReadResp>, signal: AbortSignal): Promise<void> {
    const plan = readPlan(call.request);
    const send = (message: streams.ReadResp) => write(call, message, signal);
    // Reads are served by any node; one that requires the leader is refused elsewhere (a subscription
    // after its confirmation: a real node refuses it at its first catch-up read).
    const route = this.route(requiresLeader(call));
    const refusal = route.kind === 'not-leader' ? this.notLeader(route.leader) : route.kind === 'not-ready' ? notReadyError() : null;
    this.calls.reads++;
    if (refusal && plan.count !== null) throw refusal;
    if (plan.count === null) {
      if (plan.backwards) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Subscriptions read forwards only');
      await send(confirmationResponse(randomUUID()));
      if (refusal) throw refusal;
      if (plan.target.kind === 'all') await this.subscribeToAll(plan, send, signal);
      else await this.subscribeToStream(plan.target.name, plan, send, signal);
      return;
    }
    if (plan.target.kind === 'stream') {
      const events = this.log.stream(plan.target.name);
      if (!events) return send(streamNotFoundResponse(plan.target.name));
      for (const event of streamWindow(events, plan)) {
        if (signal.aborted) return;
        await send(eventResponse(event, plan, this.log));
      }
      return;
    }
    let sent = 0n;
    for (const event of this.allWindow(plan)) {
      if (signal.aborted || sent >= plan.count) return;
      if (!allows(plan.filter, event)) continue;
      await send(eventResponse(event, plan, this.log));
      sent++;
    }
  }

  /** `$all` in read order from the plan's origin: forwards from a position inclusive, backwards before it. */
  private *allWindow(plan: ReadPlan): Generator<StoredEvent> {
    const log = this.log;
    const { origin } = plan;
    if (!plan.backwards) {
      let index = origin.kind === 'end' ? log.size : origin.kind === 'position' ? log.indexAtOrAfter(origin.position) : 0;
      for (let event = log.recordAt(index); event; event = log.recordAt(++index)) yield event;
      return;
    }
    let index = (origin.kind === 'position' ? log.indexAtOrAfter(origin.position) : origin.kind === 'start' ? 0 : log.size) - 1;
    for (let event = log.recordAt(index); event && index >= 0; event = log.recordAt(--index)) yield event;
  }

  /**
   * A catch-up subscription to `$all`: events after the origin position (exclusive), the filter's checkpoints
   * every `checkpointInterval` considered events and at the end of the catch-up, then CaughtUp, then live.
   */
  private async subscribeToAll(
    plan: ReadPlan,
    send: (message: streams.ReadResp) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const log = this.log;
    const { origin } = plan;
    let index = origin.kind === 'end' ? log.size : origin.kind === 'position' ? log.indexAtOrAfter(origin.position + 1n) : 0;
    let considered = 0;
    let lastConsidered: bigint | null = null;
    let live = false;
    while (!signal.aborted) {
      const event = log.recordAt(index);
      if (!event) {
        if (!live) {
          if (plan.filter && lastConsidered !== null) await send(checkpointResponse(lastConsidered));
          considered = 0;
          await send(caughtUpResponse());
          live = true;
          continue; // the log may have grown while sending
        }
        await log.changed(signal);
        continue;
      }
      index++;
      considered++;
      lastConsidered = event.position;
      if (allows(plan.filter, event)) await send(eventResponse(event, plan, this.log));
      if (plan.filter && considered >= plan.checkpointInterval) {
        considered = 0;
        await send(checkpointResponse(event.position));
      }
    }
  }

  /** A catch-up subscription to one stream: events after the origin revision (exclusive), CaughtUp, live. */
  private async subscribeToStream(
    streamName: string,
    plan: ReadPlan,
    send: (message: streams.ReadResp) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const log = this.log;
    const { origin } = plan;
    let next =
      origin.kind === 'end'
        ? Number(log.lastRevision(streamName) + 1n)
        : origin.kind === 'revision'
          ? Number(origin.revision + 1n)
          : 0;
    let live = false;
    while (!signal.aborted) {
      const event = log.stream(streamName)?.[next];
      if (!event) {
        if (!live) {
          await send(caughtUpResponse());
          live = true;
          continue;
        }
        await log.changed(signal);
        continue;
      }
      next++;
      await send(eventResponse(event, plan, this.log));
    }
  }

  // ---- Append -------------------------------------------------------------------------------------

  private append(
    call: grpc.ServerReadableStream<streams.AppendReq, streams.AppendResp>,
    callback: grpc.sendUnaryData<streams.AppendResp>,
  ): void {
    let options: streams.AppendReq.Options | undefined;
    const events: ProposedEvent[] = [];
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      callback(asServiceError(error));
    };
    call.on('data', (request: streams.AppendReq) => {
      try {
        if (!options) {
          if (!request.hasOptions()) throw rpcError(grpc.status.INVALID_ARGUMENT, 'The first message of Append must be the options');
          options = request.getOptions()!;
        } else if (request.hasProposedMessage()) {
          events.push(proposedEvent(request.getProposedMessage()!));
        } else {
          throw rpcError(grpc.status.INVALID_ARGUMENT, 'Only proposed messages may follow the options');
        }
      } catch (error) {
        fail(error);
      }
    });
    // The node going away while the request is still arriving: UNAVAILABLE, as a client whose connection drops sees it.
    const dropped = () => fail(rpcError(grpc.status.UNAVAILABLE, 'Connection dropped'));
    this.receiving.add(dropped);
    call.on('error', (error) => {
      this.receiving.delete(dropped);
      fail(error);
    });
    call.on('end', () => {
      this.receiving.delete(dropped);
      if (failed) return;
      try {
        if (this.stopping) throw rpcError(grpc.status.UNAVAILABLE, 'Server is shutting down');
        if (!options) throw rpcError(grpc.status.INVALID_ARGUMENT, 'Append without options');
        const expected = expectedOfAppend(options);
        const route = this.route(requiresLeader(call));
        this.calls.appends++;
        if (route.kind === 'not-leader') throw this.notLeader(route.leader);
        if (route.kind === 'not-ready') throw notReadyError();
        const forwarded = route.kind === 'forward';
        // The call's own gRPC deadline is enforced by grpc-js (DEADLINE_EXCEEDED); this is the node's timeout.
        (forwarded ? route.leader : this).submit(
          streamNameOf(options.getStreamIdentifier()),
          events,
          expected,
          this.options.writeTimeoutMs,
          (outcome) => {
            // A node's prepare/commit timeout on Append: ABORTED, which the client reports as TimeoutError.
            if (outcome === 'timeout') return fail(rpcError(grpc.status.ABORTED, 'Operation timed out'));
            callback(null, appendResponse(expected, outcome));
          },
          // The leader gone under a forwarded write: the forwarding times out.
          () => fail(forwarded ? rpcError(grpc.status.ABORTED, 'Operation timed out') : rpcError(grpc.status.UNAVAILABLE, 'Server is shutting down')),
        );
      } catch (error) {
        fail(error);
      }
    });
  }

  /**
   * BatchAppend: one long-lived call per client connection; each append is a run of requests sharing a
   * correlation id (options first, `is_final` last) and gets one reply with that correlation id. Each append
   * has until its deadline (the client's, capped by the node's write timeout, counted from its options) to
   * be answered; after that it is answered Timeout, as a node does.
   */
  private batchAppend(call: grpc.ServerDuplexStream<streams.BatchAppendReq, streams.BatchAppendResp>): void {
    const pending = new Map<string, { streamName: string; expected: Expected; events: ProposedEvent[]; expiresAt: number }>();
    const controller = this.track(call);
    const leaderRequired = requiresLeader(call); // read once per call, as a node does
    const send = (reply: streams.BatchAppendResp) => {
      if (!controller.signal.aborted) call.write(reply);
    };
    // A node going away cancels the call: every append still open on it fails CANCELLED.
    const cancel = () => {
      if (controller.signal.aborted) return;
      controller.abort();
      call.emit('error', rpcError(grpc.status.CANCELLED, 'The server is shutting down'));
    };
    this.batchCalls.add(cancel);
    call.on('close', () => this.batchCalls.delete(cancel));
    call.on('data', (request: streams.BatchAppendReq) => {
      if (controller.signal.aborted) return; // cancelled by the shutdown: nothing more is written
      const correlation = request.getCorrelationId();
      const reply = () => {
        const message = new streams.BatchAppendResp();
        if (correlation) message.setCorrelationId(correlation);
        return message;
      };
      let streamName: string | undefined;
      try {
        const id = uuidOf(correlation);
        if (request.hasOptions()) {
          const options = request.getOptions()!;
          streamName = streamNameOf(options.getStreamIdentifier());
          const deadline = options.hasDeadline() ? options.getDeadline()!.toDate().getTime() : Infinity;
          const expiresAt = Math.min(deadline, Date.now() + this.options.writeTimeoutMs);
          if (expiresAt <= Date.now()) {
            // Already late: refused before anything is written.
            return send(reply().setStreamIdentifier(streamIdentifier(streamName)).setError(timeoutStatus()));
          }
          pending.set(id, { streamName, expected: expectedOfBatch(options), events: [], expiresAt });
        }
        const write = pending.get(id);
        if (!write) return;
        streamName = write.streamName;
        write.events.push(...request.getProposedMessagesList().map(proposedEvent));
        if (!request.getIsFinal()) return;
        pending.delete(id);
        const route = this.route(leaderRequired);
        this.calls.appends++;
        if (route.kind === 'not-leader') {
          // A node throws NotLeader out of the call: it ends, failing every append still open on it.
          controller.abort();
          return void call.emit('error', this.notLeader(route.leader));
        }
        if (route.kind === 'not-ready') {
          return send(reply().setStreamIdentifier(streamIdentifier(write.streamName)).setError(notReadyStatus()));
        }
        const forwarded = route.kind === 'forward';
        const answer = (outcome: AppendAnswer) => send(batchAppendResponse(reply(), write.streamName, write.expected, outcome));
        (forwarded ? route.leader : this).submit(
          write.streamName,
          write.events,
          write.expected,
          write.expiresAt - Date.now(),
          answer,
          // Here the call's cancellation answers it; the leader gone under a forwarded write: it times out.
          forwarded ? () => answer('timeout') : () => undefined,
        );
      } catch (error) {
        const message = reply();
        if (streamName) message.setStreamIdentifier(streamIdentifier(streamName));
        message.setError(
          statusWithDetails(
            Code.INVALID_ARGUMENT,
            (error as Error).message,
            new shared.BadRequest().setMessage((error as Error).message),
            'event_store.client.BadRequest',
          ),
        );
        send(message);
      }
    });
    call.on('end', () => {
      if (!controller.signal.aborted) call.end();
    });
    call.on('error', () => controller.abort());
  }
}

/** Append's reply to a written (or refused) append. */
function appendResponse(expected: Expected, outcome: AppendOutcome): streams.AppendResp {
  if (!outcome.ok) return appendWrongExpectedVersion(expected, outcome.currentRevision);
  const success = new streams.AppendResp.Success();
  if (outcome.currentRevision < 0n) success.setNoStream(new shared.Empty());
  else success.setCurrentRevision(outcome.currentRevision.toString());
  if (outcome.position === null) success.setNoPosition(new shared.Empty());
  else {
    success.setPosition(
      new streams.AppendResp.Position()
        .setCommitPosition(outcome.position.toString())
        .setPreparePosition(outcome.position.toString()),
    );
  }
  return new streams.AppendResp().setSuccess(success);
}

/** BatchAppend's reply to one append: success, WrongExpectedVersion or Timeout, as google.rpc.Status. */
function batchAppendResponse(
  reply: streams.BatchAppendResp,
  streamName: string,
  expected: Expected,
  outcome: AppendAnswer,
): streams.BatchAppendResp {
  reply.setStreamIdentifier(streamIdentifier(streamName));
  if (outcome === 'timeout') return reply.setError(timeoutStatus());
  if (!outcome.ok) {
    return reply.setError(
      statusWithDetails(
        Code.ALREADY_EXISTS,
        'WrongExpectedVersion',
        wrongExpectedVersionDetails(expected, outcome.currentRevision),
        'event_store.client.WrongExpectedVersion',
      ),
    );
  }
  const success = new streams.BatchAppendResp.Success();
  if (outcome.currentRevision < 0n) success.setNoStream(new GoogleEmpty());
  else success.setCurrentRevision(outcome.currentRevision.toString());
  if (outcome.position === null) success.setNoPosition(new GoogleEmpty());
  else {
    success.setPosition(
      new shared.AllStreamPosition()
        .setCommitPosition(outcome.position.toString())
        .setPreparePosition(outcome.position.toString()),
    );
  }
  return reply.setSuccess(success);
}

/** Whether the call asks for the leader (the client's `requiresLeader` option). */
function requiresLeader(call: { metadata: grpc.Metadata }): boolean {
  return call.metadata.get('requires-leader')[0]?.toString() === 'true';
}

/** A node's refusal of what requires the leader: NotFound with the leader's address (the client's NotLeaderError). */
function notLeaderError(leader: EsdbTestServer): grpc.ServiceError {
  return rpcError(grpc.status.NOT_FOUND, 'Leader info available', {
    exception: 'not-leader',
    'leader-endpoint-host': leader.host,
    'leader-endpoint-port': String(leader.port),
  });
}

/** A node without a leader (during an election), on Append and reads. */
function notReadyError(): grpc.ServiceError {
  return rpcError(grpc.status.UNAVAILABLE, 'Server Is Not Ready');
}

/**
 * The same on BatchAppend: a status with no code and `Empty` details, as a node sends it; the client 6.x
 * does not recognise it and reports an UnknownError "Could not recognize Server Is Not Ready".
 */
function notReadyStatus(): status.Status {
  return statusWithDetails(Code.OK, 'Server Is Not Ready', new GoogleEmpty(), 'google.protobuf.Empty');
}

/** A node's `Status.Timeout`: DEADLINE_EXCEEDED with `event_store.client.Timeout` details (DeadlineExceededError). */
function timeoutStatus(): status.Status {
  return statusWithDetails(Code.DEADLINE_EXCEEDED, 'Timeout', new shared.Timeout(), 'event_store.client.Timeout');
}

/** Writes one message, waiting while the call's buffer is full; gives up when the call is aborted. */
async function write<T>(call: grpc.ServerWritableStream<unknown, T>, message: T, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  if (call.write(message)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done);
  });
}

/** A stream's events in read order from the plan's origin (a revision is inclusive both ways), at most `count`. */
function streamWindow(events: readonly StoredEvent[], plan: ReadPlan): StoredEvent[] {
  const count = Number(plan.count! > BigInt(events.length) ? BigInt(events.length) : plan.count!);
  const { origin } = plan;
  if (!plan.backwards) {
    const from = origin.kind === 'revision' ? Number(origin.revision) : origin.kind === 'end' ? events.length : 0;
    return events.slice(from, from + count);
  }
  const from = origin.kind === 'revision' ? Math.min(Number(origin.revision), events.length - 1) : origin.kind === 'start' ? 0 : events.length - 1;
  return events.slice(Math.max(0, from - count + 1), from + 1).reverse();
}

function statusWithDetails(code: Code, message: string, details: { serializeBinary(): Uint8Array }, typeName: string): status.Status {
  const any = new Any();
  any.pack(details.serializeBinary(), typeName);
  return new status.Status().setCode(code).setMessage(message).setDetails(any);
}

function asServiceError(error: unknown): grpc.ServiceError {
  if (error && typeof (error as grpc.ServiceError).code === 'number') return error as grpc.ServiceError;
  return rpcError(grpc.status.UNKNOWN, error instanceof Error ? error.message : String(error));
}
