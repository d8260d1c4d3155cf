import { INestApplicationContext } from '@nestjs/common';
import { InteractionsService } from '../../src';
import { drive, driveEach, type DriveResult } from '../drive';
import { makeWorld, World } from '../generate';
import { prng, Random } from '../random';
import { SCALES, Scale } from '../scales';
import { serveRequests } from '../worker-process';
import { bootModule, createInputs, editOf } from './append';

/**
 * One instance of a host in the instances scenario (bench/scenarios/instances.ts): a process of its own
 * that boots the module on the scenario's schema and runs creates or updates when asked. It is not a
 * test and jest never loads it.
 */
export type InstanceRequest =
  /** Boot the module (pool of `poolSize`) on `schema`; `instance` seeds this instance's own inputs. */
  | { kind: 'open'; databaseUrl: string; schema: string; scale: Scale['name']; seed: number; instance: number; poolSize: number }
  /** `count` creates by `callers` callers; answers with the uuids created. */
  | { kind: 'create'; callers: number; count: number }
  /** One edit of each interaction, by `callers` callers. */
  | { kind: 'update'; callers: number; uuids: string[] }
  | { kind: 'close' };

export interface InstanceResult {
  drive?: DriveResult;
  uuids?: string[];
}

let booted: { app: INestApplicationContext; service: InteractionsService; world: World; scale: Scale; random: Random } | null = null;

async function handle(request: InstanceRequest): Promise<InstanceResult> {
  switch (request.kind) {
    case 'open': {
      const scale = SCALES[request.scale];
      const world = makeWorld(scale, request.seed);
      const { app, service } = await bootModule({ connectionString: request.databaseUrl, maxConnections: request.poolSize }, request.schema, world);
      booted = { app, service, world, scale, random: prng(request.seed + 101 * (request.instance + 1)) };
      return {};
    }
    case 'create': {
      const { service, world, scale, random } = booted!;
      const uuids: string[] = [];
      const result = await drive(createInputs(world, scale, random, request.count), request.callers, async (input) => {
        uuids.push((await service.createInteraction(input.attrs, input.parties)).uuid);
      });
      return { drive: result, uuids };
    }
    case 'update': {
      const { service } = booted!;
      const result = await driveEach(request.uuids, request.callers, (uuid, i) => service.updateInteraction(uuid, editOf(uuid, i)));
      return { drive: result };
    }
    case 'close':
      await booted?.app.close();
      booted = null;
      return {};
  }
}

serveRequests(handle);
