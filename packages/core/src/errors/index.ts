export * from './domain-error.ts';
export * from './unique-violation.ts';
