export * from './payloads.ts';
export * from './publisher.ts';
