export * from './intake.ts';
export * from './standard-webhooks.ts';
