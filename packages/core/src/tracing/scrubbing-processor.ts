import type { Attributes } from '@opentelemetry/api';
import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { scrubText } from '../logging/redaction.ts';

/**
 * The logger's redaction, applied to every span before export: PAN-looking digit runs and
 * bearer/`whsec_` tokens inside any string attribute (a URL a client put a card number in, an
 * exception's message) are masked, as in log lines. Our own spans carry ids only; this is the
 * net under the instrumentations', whose attributes we do not choose.
 */
export class ScrubbingSpanProcessor implements SpanProcessor {
  onStart(): void {}

  onEnding(span: Span): void {
    for (const [key, value] of Object.entries(span.attributes)) {
      const scrubbed = scrubAttribute(value);
      if (scrubbed !== value) span.setAttribute(key, scrubbed);
    }
    for (const event of span.events) {
      if (event.attributes !== undefined) scrubInPlace(event.attributes);
    }
    if (span.status.message !== undefined) span.status.message = scrubText(span.status.message);
    const name = scrubText(span.name);
    if (name !== span.name) span.updateName(name);
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

type AttributeValue = Attributes[string];

function scrubAttribute(value: AttributeValue): AttributeValue {
  if (typeof value === 'string') {
    const scrubbed = scrubText(value);
    return scrubbed === value ? value : scrubbed;
  }
  if (Array.isArray(value) && value.some((item) => typeof item === 'string')) {
    return (value as unknown[]).map((item) =>
      typeof item === 'string' ? scrubText(item) : item,
    ) as AttributeValue;
  }
  return value;
}

function scrubInPlace(attributes: Attributes): void {
  for (const [key, value] of Object.entries(attributes)) attributes[key] = scrubAttribute(value);
}
