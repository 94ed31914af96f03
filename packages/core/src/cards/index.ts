export * from './crypto.ts';
export * from './pan.ts';
