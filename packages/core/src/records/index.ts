export * from './chunk.ts';
export * from './entities.ts';
export * from './idempotency.ts';
export * from './kits.ts';
export * from './reencrypt.ts';
export { maskedPan } from './views.ts';
