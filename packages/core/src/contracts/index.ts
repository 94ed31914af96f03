export * from './notifications.ts';
export * from './saas.ts';
