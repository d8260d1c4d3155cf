import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { InteractionsMaintenance, InteractionsMetrics, InteractionValidationError, TRACER_NAME } from '../../src';
import { POSTGRES } from '../support/backends';
import { ModuleUnderTest, startModule } from '../support/module';
import { rejectionOf } from '../support/rejections';

/**
 * What an operator sees: the module's spans once the host registers an OpenTelemetry SDK (here an
 * in-memory one), and its Prometheus metrics.
 */

const exporter = new InMemorySpanExporter();
const parentOf = (span: ReadableSpan) =>
  (span as unknown as { parentSpanContext?: { spanId: string }; parentSpanId?: string }).parentSpanContext?.spanId ??
  (span as unknown as { parentSpanId?: string }).parentSpanId;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
afterAll(() => {
  trace.disable();
  context.disable();
});

describe('observability (PostgreSQL)', () => {
  let m: ModuleUnderTest;
  beforeAll(async () => (m = await startModule({ backend: POSTGRES })));
  afterAll(() => m.close());
  beforeEach(() => exporter.reset());

  it('a command is a span with its append as a child, inside the caller\'s span; a query is a span too', async () => {
    const contact = m.newContact({ name: 'Ada' });
    const tracer = trace.getTracer('host');
    const created = await tracer.startActiveSpan('host request', async (span) => {
      try {
        return await m.service.createInteraction({ contactUuid: contact, subject: 'Traced' });
      } finally {
        span.end();
      }
    });
    await m.service.listInvolving(contact);
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name);
    const request = byName('host request')!;
    const command = byName('crm-interactions command CreateInteractionCommand')!;
    const append = byName('crm-interactions append')!;
    expect(command.instrumentationScope.name).toBe(TRACER_NAME);
    expect(parentOf(command)).toBe(request.spanContext().spanId);
    expect(parentOf(append)).toBe(command.spanContext().spanId);
    expect(append.attributes['crm_interactions.stream']).toBe(`interaction-${created.uuid}`);
    expect(byName('crm-interactions query ListInvolvingQuery')).toBeDefined();
  });

  it('a command that fails ends its span with the error', async () => {
    const error = await rejectionOf(m.service.createInteraction({ contactUuid: 'nope' }));
    expect(error).toBeInstanceOf(InteractionValidationError);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'crm-interactions command CreateInteractionCommand')!;
    expect(span.status).toEqual({ code: 2, message: 'InteractionValidationError' });
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('metrics: command and query latencies by outcome, parked events, projection state, pending lifecycle work', async () => {
    const registry = m.app.get(InteractionsMetrics).registry;
    const before = await registry.getSingleMetricAsString('crm_interactions_command_duration_seconds');
    const count = (text: string, labels: string) => Number(new RegExp(`_count\\{${labels}\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const contact = m.newContact();
    await m.service.createInteraction({ contactUuid: contact });
    await rejectionOf(m.service.createInteraction({ contactUuid: contact, interactionType: 'fax' as never }));
    await m.service.countInvolving(contact);
    const text = await registry.metrics();
    const okLabels = 'command="CreateInteractionCommand",outcome="ok"';
    const invalidLabels = 'command="CreateInteractionCommand",outcome="invalid"';
    expect(count(text, okLabels)).toBe(count(before, okLabels) + 1);
    expect(count(text, invalidLabels)).toBe(count(before, invalidLabels) + 1);
    expect(count(text, 'query="CountInvolvingQuery",outcome="ok"')).toBeGreaterThanOrEqual(1);
    expect(text).toContain('crm_interactions_parked_events 0');
    expect(text).toContain('crm_interactions_projection_caught_up 1');
    expect(text).toContain('crm_interactions_projection_lag_seconds 0');
    expect(text).toContain('crm_interactions_lifecycle_pending{kind="decisions"} 0');
    expect(text).toContain('crm_interactions_lifecycle_pending{kind="interactions"} 0');
    // Parked events show.
    await m.db.query(
      `INSERT INTO parked_events (stream_name, stream_revision, commit_position, prepare_position, event_id, event_type, error)
       VALUES ('interaction-x', 0, 0, 0, gen_random_uuid(), 'Broken', 'test')`,
    );
    expect(await registry.metrics()).toContain('crm_interactions_parked_events 1');
  });

  it('the parked-events gauge counts up to 10,000, as health() does, and says so', async () => {
    const registry = m.app.get(InteractionsMetrics).registry;
    await m.db.query(
      `INSERT INTO parked_events (stream_name, stream_revision, commit_position, prepare_position, event_id, event_type, error)
       SELECT 'interaction-cap', n, n, n, gen_random_uuid(), 'Broken', 'test' FROM generate_series(1, 10001) AS n`,
    );
    try {
      const gauge = await registry.getSingleMetricAsString('crm_interactions_parked_events');
      expect(gauge).toMatch(/^# HELP crm_interactions_parked_events .*counted up to 10000/);
      expect(gauge).toMatch(/^crm_interactions_parked_events 10000$/m);
      expect((await m.app.get(InteractionsMaintenance).health()).projection.parked).toBe(10_000);
    } finally {
      await m.db.query("DELETE FROM parked_events WHERE stream_name = 'interaction-cap'");
    }
  });
});
