import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { tracingEnabled } from './state.ts';

/**
 * The tracing vocabulary every process uses, over `@opentelemetry/api` only: without a registered
 * SDK (tracing off) the API is a no-op, every function here returns at once and nothing else of
 * OpenTelemetry is loaded. `start.ts` registers the SDK when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
 */

export const TRACER_NAME = 'ctp';

/** Span attributes of an operation: ids and outcomes, never a card number, key or secret. */
export const SPAN_ATTRIBUTES = {
  operationId: 'ctp.operation_id',
  event: 'ctp.event',
  tenant: 'ctp.tenant',
  outcome: 'ctp.outcome',
  requestTraceId: 'ctp.request_trace_id',
  webhookId: 'ctp.webhook_id',
  topic: 'ctp.outbox.topic',
  notificationId: 'ctp.notification_id',
  deliveries: 'ctp.deliveries',
} as const;

/**
 * OpenTelemetry's messaging attributes, for a consumer's span. The messaging conventions are still
 * in development, so their names are written here rather than imported from the package's
 * incubating entry point (which may change them in a minor version).
 */
export const MESSAGING_ATTRIBUTES = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  consumerGroup: 'messaging.consumer.group.name',
  clientId: 'messaging.client.id',
  messageId: 'messaging.message.id',
} as const;

const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of the active span, or undefined when no span is recording. */
export function activeTraceparent(): string | undefined {
  return traceparentOf(context.active());
}

function traceparentOf(ctx: ReturnType<typeof context.active>): string | undefined {
  if (!trace.getSpan(ctx)?.isRecording()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The trace id of a `traceparent`, or null if it is not one. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  return TRACEPARENT.exec(traceparent ?? '')?.[1] ?? null;
}

/** The tracing UI's page of a trace (`TRACING_UI_URL` with `{traceId}`), or null. */
export function traceUrl(
  template: string | undefined,
  traceparent: string | null | undefined,
): string | null {
  const traceId = traceIdOf(traceparent);
  if (template === undefined || traceId === null) return null;
  return template.replaceAll('{traceId}', traceId);
}

export interface SpanOptions {
  /** The stored `traceparent` this span continues (an operation's), instead of the active span. */
  readonly parent?: string | null | undefined;
  readonly attributes?: Attributes;
  readonly kind?: SpanKind;
}

/**
 * Runs `work` in a span named `name`, the child of `parent` if one is given (an operation's
 * stored `traceparent`: the step joins the operation's trace whichever process runs it, after any
 * crash or retry), else of the active span. With a stored parent, the span that was active (the
 * request or job that ran the step) is linked, not the parent, even when it is in the operation's
 * trace already: its ancestry may pass through a span that was never exported. A webhook
 * delivery's HTTP span continues the SaaS's span of our call, whose parent is the HTTP client span
 * of the worker that called; when that worker was killed mid-call, that span died with it, and a
 * receipt under the delivery would hang from a hole in the tree instead of under the operation's
 * request. An exception marks the span as an error and is rethrown. With tracing off, `work` runs
 * at once with a non-recording span.
 */
export function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return work(NOT_RECORDING);
  const stored = remoteSpanContextOf(options.parent ?? undefined);
  const active = trace.getActiveSpan();
  const links: Link[] = [];
  if (stored !== undefined && active?.isRecording()) links.push({ context: active.spanContext() });
  const parentContext = stored === undefined ? context.active() : trace.setSpanContext(ROOT_CONTEXT, stored);
  return trace
    .getTracer(TRACER_NAME)
    .startActiveSpan(
      name,
      { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {}, links },
      parentContext,
      (span) => runToEnd(span, work),
    );
}

/** Runs `work` in `span` and ends it; an exception marks it failed and is rethrown. */
async function runToEnd<T>(span: Span, work: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await work(span);
  } catch (error) {
    markSpanFailed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Marks `span` as an error, naming the error's class only: its message may hold anything. */
export function markSpanFailed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
}

/**
 * The span context a W3C `traceparent` names (remote), or undefined when the value is missing or
 * not a valid one. Read here rather than through the registered propagator: the field is W3C by
 * contract, whichever propagator the consuming process configured.
 */
function remoteSpanContextOf(traceparent: string | undefined): SpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent ?? '');
  if (match === null) return undefined;
  const [, traceId = '', spanId = '', flags = '00'] = match;
  const spanContext: SpanContext = {
    traceId,
    spanId,
    // Only the sampled bit is defined by W3C Trace Context level 1.
    traceFlags: Number.parseInt(flags, 16) & 1,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/**
 * Runs `work` in the "process" span (kind CONSUMER) of one message whose producer attached
 * `creationContext`, its W3C `traceparent` (a notification stream entry's field).
 *
 * OpenTelemetry's messaging conventions make a link to the message's creation context the rule
 * for a consumer's span, and allow the creation context as its parent when a message is processed
 * on its own ("message creation context as parent of Process span"). We do both: the parent puts
 * the consumer inside the operation's trace, under the publication of its notification, which is
 * the trace an on-call engineer opens; the link is what link-following tools expect. A span active
 * when the message was dispatched (a consumer started inside some span of its host) becomes a
 * link, not the parent, as the conventions ask in that case. A missing or malformed `traceparent`
 * (outside input) starts a trace of its own: it is never a reason to refuse the message.
 *
 * Unlike `inSpan`, this does not wait for our `startTracing`: consumers run in other systems'
 * processes, which may register an SDK of their own. Without any, `@opentelemetry/api` is a no-op.
 */
export function inMessageSpan<T>(
  name: string,
  options: { readonly creationContext: string | undefined; readonly attributes: Attributes },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const creation = remoteSpanContextOf(options.creationContext);
  const ambient = trace.getActiveSpan();
  const links: Link[] = [];
  if (creation !== undefined) links.push({ context: creation });
  if (ambient?.isRecording()) links.push({ context: ambient.spanContext() });
  const parentContext = creation === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, creation);
  return trace
    .getTracer(TRACER_NAME)
    .startActiveSpan(
      name,
      { kind: SpanKind.CONSUMER, attributes: options.attributes, links },
      parentContext,
      (span) => runToEnd(span, work),
    );
}

/**
 * Starts a span (not made active) continuing `parent`, for work done in a batch (the relay
 * publishes many rows at once): the caller ends it. Returns it with its own `traceparent`, which
 * the next hop (a job, a stream entry) carries.
 */
export function startChildSpan(
  name: string,
  parent: string,
  options: { attributes?: Attributes; kind?: SpanKind } = {},
): { span: Span; traceparent: string | undefined } {
  const parentContext = propagation.extract(ROOT_CONTEXT, { traceparent: parent });
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(
      name,
      { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} },
      parentContext,
    );
  return { span, traceparent: traceparentOf(trace.setSpan(parentContext, span)) };
}

/** The `trace_id` and `span_id` of the active span, for log lines (empty when none records). */
export function logTraceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

export type { Span };
export { SpanKind, SpanStatusCode };

/** Adds attributes to the active span (an api request's: the operation it started), if one records. */
export function annotateActiveSpan(attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributes);
}
