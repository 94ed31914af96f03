export * from './client-text.ts';
export * from './ctp-api.ts';
export * from './m2p.ts';
export * from './m2p-errors.ts';
export * from './network-rules.ts';
export * from './notifications.ts';
export * from './platform-api.ts';
export * from './saas.ts';
