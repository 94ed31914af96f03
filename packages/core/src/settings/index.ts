export * from './enforce.ts';
export * from './schema.ts';
export * from './store.ts';
