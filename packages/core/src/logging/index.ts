export * from './logger.ts';
export * from './redaction.ts';
