import { Attributes, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * Spans through @opentelemetry/api only: a no-op until the host registers an OpenTelemetry SDK, and then
 * the module's commands, queries, appends and projection batches show in its traces, children of
 * whatever span was active when the host called the module.
 */
export const TRACER_NAME = 'crm-interactions';

const tracer = () => trace.getTracer(TRACER_NAME);

/** Runs `work` inside a span named `name`; an error ends the span with the error recorded, and is rethrown. */
export function traced<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}
