export * from './pan.ts';
