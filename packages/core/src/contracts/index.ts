export * from './client-text.ts';
export * from './ctp-api.ts';
export * from './network-rules.ts';
export * from './notifications.ts';
export * from './platform-api.ts';
export * from './saas.ts';
