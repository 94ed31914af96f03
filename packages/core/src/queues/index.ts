export * from './definitions.ts';
export * from './redis.ts';
