import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InteractionsHealth, InteractionsMaintenance } from '../nest/interactions.maintenance';

type IndicatorStatus = 'up' | 'degraded' | 'down';
type Indicator = { status: IndicatorStatus } & Record<string, unknown>;

/** The part of Express's response the controller uses. */
interface StatusResponse {
  status(code: number): unknown;
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly maintenance: InteractionsMaintenance) {}

  /**
   * 200 for `ok` and `degraded` (parked events, a lagging projection: the module still answers), 503 for
   * `down` (the database or the event store cannot be reached), with the details either way, in the
   * shape of @nestjs/terminus (`info` for what is up, `error` for what is not, `details` for all).
   */
  @Get()
  @ApiOperation({ summary: 'ok or degraded (200), down (503), with the details either way', operationId: 'health' })
  @ApiResponse({ status: 200, description: 'ok or degraded', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } })
  @ApiResponse({ status: 503, description: 'down', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } })
  async check(@Res({ passthrough: true }) response: StatusResponse) {
    const health = await this.maintenance.health();
    if (health.status === 'down') response.status(503);
    const details = indicators(health);
    const pick = (wanted: (status: IndicatorStatus) => boolean) =>
      Object.fromEntries(Object.entries(details).filter(([, indicator]) => wanted(indicator.status)));
    return { status: health.status, info: pick((s) => s === 'up'), error: pick((s) => s !== 'up'), details };
  }
}

function indicators(health: InteractionsHealth): Record<'database' | 'eventStore' | 'projection', Indicator> {
  const { database, eventStore, projection } = health;
  const healthy = projection.caughtUp && projection.parked === 0;
  return {
    database: database.up ? { status: 'up' } : { status: 'down', error: database.error },
    eventStore: eventStore.up
      ? { status: 'up', kind: eventStore.kind }
      : { status: 'down', kind: eventStore.kind, error: eventStore.error },
    projection: {
      status: healthy ? 'up' : 'degraded',
      mode: projection.mode,
      parked: projection.parked,
      caughtUp: projection.caughtUp,
      lag: describeLag(projection.lag),
      ...(projection.role && { role: projection.role }),
      ...(projection.lastError && { lastError: projection.lastError }),
    },
  };
}

function describeLag(lag: InteractionsHealth['projection']['lag']): string {
  if (lag === undefined) return 'none (inline)';
  if (lag === null) return 'unknown';
  const { head, checkpoint } = lag;
  return checkpoint.commit >= head.commit && (checkpoint.commit > head.commit || checkpoint.prepare >= head.prepare)
    ? 'caught up'
    : `checkpoint ${checkpoint.commit}/${checkpoint.prepare}, head ${head.commit}/${head.prepare}`;
}
