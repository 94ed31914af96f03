export * from './ctp-api.ts';
export * from './notifications.ts';
export * from './platform-api.ts';
export * from './saas.ts';
