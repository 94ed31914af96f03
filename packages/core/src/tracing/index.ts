export * from './context.ts';
export { httpTracing, stopTracing, tracingEnabled } from './state.ts';
