export * from './consumer.ts';
export * from './consumer-dead-letter.ts';
export * from './decode.ts';
export * from './inspect.ts';
export * from './payloads.ts';
export * from './publisher.ts';
export * from './stream-ids.ts';
export * from './stream-replies.ts';
