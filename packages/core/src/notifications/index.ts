export * from './payloads.ts';
