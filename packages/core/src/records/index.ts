export * from './entities.ts';
export * from './kits.ts';
export { maskedPan } from './views.ts';
