import { randomUUID } from 'node:crypto';
import * as gossip from '@eventstore/db-client/generated/gossip_pb';
import * as shared from '@eventstore/db-client/generated/shared_pb';
import { EventLog } from './log';
import { EsdbTestServer, TestServerOptions } from './server';

const State = gossip.MemberInfo.VNodeState;
type State = gossip.MemberInfo.VNodeState;
const TICKS_PER_MS = 10_000n;

export interface TestClusterOptions extends Omit<TestServerOptions, 'port' | 'log' | 'cluster'> {
  /** Nodes; default 3. */
  size?: number;
  /** The nodes' ports, in order; default any free ones. */
  ports?: number[];
  /**
   * How long the cluster stays without a leader after `stopLeader` before the next node is elected;
   * default 500 ms (a real cluster needs its gossip and election timeouts: seconds).
   */
  electionMs?: number;
}

/**
 * A KurrentDB/EventStoreDB cluster in one process: one protocol test server per node, each on its own
 * port, all sharing one log (replication is synchronous: what a node acknowledged is on every node, as
 * on a real cluster once a majority has it). One node is the leader; Gossip.Read on any running node
 * answers every member with its state (Leader, Follower, Unknown during an election), `is_alive` and its
 * address, which is what @eventstore/db-client reads to pick a node. `stopLeader` kills the leader (its
 * connections drop as on a crash) and elects the next running node after `electionMs`; `elect` moves
 * the leadership at once (the old leader stays up as a follower).
 */
export class EsdbTestCluster {
  readonly log = new EventLog();
  readonly nodes: EsdbTestServer[] = [];
  private readonly ids: string[] = [];
  /** Each node's state as gossip last saw it alive (a dead node keeps it, with `is_alive` false). */
  private readonly states: State[] = [];
  private leaderIndex: number | null = null;
  private election: NodeJS.Timeout | null = null;
  private waiters: Array<() => void> = [];

  private constructor(private readonly electionMs: number) {}

  static async start(options: TestClusterOptions = {}): Promise<EsdbTestCluster> {
    const { size = 3, ports = [], electionMs = 500, ...serverOptions } = options;
    const cluster = new EsdbTestCluster(electionMs);
    for (let i = 0; i < size; i++) {
      cluster.ids.push(randomUUID());
      cluster.states.push(State.FOLLOWER);
      cluster.nodes.push(
        await EsdbTestServer.start({
          ...serverOptions,
          port: ports[i] ?? 0,
          log: cluster.log,
          // The shared log is seeded once.
          seedSystemEvent: i === 0 && (serverOptions.seedSystemEvent ?? true),
          cluster: { leader: () => cluster.leader, gossip: () => cluster.gossip() },
        }),
      );
    }
    cluster.elect(0);
    return cluster;
  }

  /** The leader; null during an election. */
  get leader(): EsdbTestServer | null {
    return this.leaderIndex === null ? null : this.nodes[this.leaderIndex]!;
  }

  get leaderIndexOrNull(): number | null {
    return this.leaderIndex;
  }

  /** Every node, for `esdb://` with several hosts (the client asks their gossip for the leader). */
  get connectionString(): string {
    const hosts = this.nodes.map((node) => `${node.host}:${node.port}`).join(',');
    return `esdb://${hosts}?tls=false&nodePreference=leader`;
  }

  /** One node as the gossip seed, for `esdb+discover://` (in production a DNS name with every node). */
  discoverConnectionString(seed = 0): string {
    const node = this.nodes[seed]!;
    return `esdb+discover://${node.host}:${node.port}?tls=false&nodePreference=leader`;
  }

  /** Makes node `index` the leader now; the other running nodes follow it. */
  elect(index: number): void {
    if (!this.nodes[index]?.isRunning) throw new Error(`Node ${index} is not running`);
    this.cancelElection();
    this.leaderIndex = index;
    this.nodes.forEach((node, i) => {
      if (node.isRunning) this.states[i] = i === index ? State.LEADER : State.FOLLOWER;
    });
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * Kills the leader, as a crash would, and starts an election: the running nodes are Unknown (not ready)
   * for `electionMs` (the cluster's, unless given), then the next running node after the old leader is
   * elected. Returns the old leader's index.
   */
  async stopLeader(options: { electionMs?: number } = {}): Promise<number> {
    const index = this.leaderIndex;
    if (index === null) throw new Error('The cluster has no leader');
    this.leaderIndex = null;
    this.nodes.forEach((node, i) => {
      if (i !== index && node.isRunning) this.states[i] = State.UNKNOWN;
    });
    await this.nodes[index]!.kill();
    this.startElection(index, options.electionMs ?? this.electionMs);
    return index;
  }

  /** Resolves with the leader once there is one (at once when there is), or rejects after `timeoutMs`. */
  async whenLeader(timeoutMs = 10_000): Promise<EsdbTestServer> {
    if (this.leader) return this.leader;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No leader elected within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.leader!;
  }

  /** Brings a stopped node back on its port: it follows the leader (or waits for the election). */
  async restartNode(index: number): Promise<void> {
    await this.nodes[index]!.restart();
    this.states[index] = this.leaderIndex === null ? State.UNKNOWN : State.FOLLOWER;
  }

  async close(): Promise<void> {
    this.cancelElection();
    await Promise.all(this.nodes.map((node) => node.close()));
  }

  /** What every node's Gossip.Read answers. */
  private gossip(): gossip.ClusterInfo {
    const now = (BigInt(Date.now()) * TICKS_PER_MS).toString();
    return new gossip.ClusterInfo().setMembersList(
      this.nodes.map((node, i) =>
        new gossip.MemberInfo()
          .setInstanceId(new shared.UUID().setString(this.ids[i]!))
          .setTimeStamp(now)
          .setState(this.states[i]!)
          .setIsAlive(node.isRunning)
          .setHttpEndPoint(new gossip.EndPoint().setAddress(node.host).setPort(node.port)),
      ),
    );
  }

  private startElection(after: number, electionMs: number): void {
    this.cancelElection();
    this.election = setTimeout(() => {
      this.election = null;
      const order = this.nodes.map((_, i) => (after + 1 + i) % this.nodes.length);
      const next = order.find((i) => this.nodes[i]!.isRunning);
      if (next !== undefined) this.elect(next);
    }, electionMs);
  }

  private cancelElection(): void {
    if (this.election) clearTimeout(this.election);
    this.election = null;
  }
}
