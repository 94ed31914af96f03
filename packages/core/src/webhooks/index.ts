export * from './standard-webhooks.ts';
