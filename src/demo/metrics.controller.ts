import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { InteractionsMetrics } from '../nest/metrics';
import { ApiErrors } from './openapi';

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
  @ApiResponse({
    status: 200,
    description: "the Prometheus text format 0.0.4; a gauge read from the module's tables is NaN while the database is down",
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors(500)
  async scrape(@Res({ passthrough: true }) response: { type(contentType: string): unknown }): Promise<string> {
    const text = await this.registry.metrics();
    // Set only once there is text: a failure is answered as the JSON error it is.
    response.type('text/plain; version=0.0.4; charset=utf-8');
    return text;
  }
}
