export * from './errors.ts';
export * from './events.ts';
export * from './result.ts';
export * from './rules.ts';
export * from './statuses.ts';
export * from './transitions.ts';
