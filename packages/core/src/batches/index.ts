export * from './feeder.ts';
export * from './report.ts';
export * from './schema.ts';
export * from './store.ts';
