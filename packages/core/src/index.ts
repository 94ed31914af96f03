export * from './cards/index.ts';
export * from './config/index.ts';
export * from './contracts/index.ts';
export * from './errors/index.ts';
export * from './lifecycle/index.ts';
export * from './logging/index.ts';
export * from './notifications/index.ts';
