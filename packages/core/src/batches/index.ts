export * from './feeder.ts';
export * from './schema.ts';
export * from './store.ts';
export * from './report.ts';
