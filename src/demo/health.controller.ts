import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { InteractionsMaintenance } from '../nest/interactions.maintenance';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly maintenance: InteractionsMaintenance,
  ) {}

  /** 200 when the database, the event store and the projection are well, else 503 with the details. */
  @Get()
  @HealthCheck()
  check() {
    const report = this.maintenance.health();
    return this.health.check([
      async () => {
        const { database } = await report;
        const indicator = this.indicators.check('database');
        return database.up ? indicator.up() : indicator.down({ error: database.error });
      },
      async () => {
        const { eventStore } = await report;
        const indicator = this.indicators.check('eventStore');
        return eventStore.up ? indicator.up({ kind: eventStore.kind }) : indicator.down({ kind: eventStore.kind, error: eventStore.error });
      },
      async () => {
        const { projection } = await report;
        const stats = await this.maintenance.stats().catch(() => null);
        const lag = stats && stats.projection === 'subscription' ? describeLag(stats.head, stats.checkpoint) : 'none (inline)';
        const indicator = this.indicators.check('projection');
        return projection.caughtUp
          ? indicator.up({ mode: projection.mode, lag })
          : indicator.down({ mode: projection.mode, lag, error: projection.lastError ?? 'catching up' });
      },
    ]);
  }
}

function describeLag(head: { commit: bigint; prepare: bigint }, checkpoint: { commit: bigint; prepare: bigint }): string {
  return head.commit === checkpoint.commit && head.prepare === checkpoint.prepare
    ? 'caught up'
    : `checkpoint ${checkpoint.commit}/${checkpoint.prepare}, head ${head.commit}/${head.prepare}`;
}
