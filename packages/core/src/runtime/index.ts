export * from './coalesced-limiter.ts';
export * from './health.ts';
export * from './http.ts';
export * from './shutdown.ts';
