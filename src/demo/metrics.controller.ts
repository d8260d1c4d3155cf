import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { InteractionsMetrics } from '../nest/metrics';

/** The process's own metrics (CPU, memory, event loop), next to the module's, as a host would serve them. */
const processMetrics = new Registry();
collectDefaultMetrics({ register: processMetrics });

@ApiTags('health')
@Controller('metrics')
export class MetricsController {
  private readonly registry: Registry;

  constructor(metrics: InteractionsMetrics) {
    this.registry = Registry.merge([metrics.registry, processMetrics]);
  }

  @Get()
  @ApiOperation({ summary: "Prometheus metrics: the module's (see README, Observability) and the process's", operationId: 'metrics' })
  @ApiResponse({ status: 200, description: 'the Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } })
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
