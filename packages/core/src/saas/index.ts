export * from './bodies.ts';
export * from './client.ts';
export * from './errors.ts';
