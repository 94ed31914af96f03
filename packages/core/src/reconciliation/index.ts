/**
 * Reconciliation with the network (platform contract, "Reconciliation with the network"): each
 * entity compared with `/getData`, the network's statuses and ids taken through the lifecycle,
 * stale data at the network sent again as automatic updates; on request and on a schedule.
 */
export * from './check.ts';
export * from './runs.ts';
export * from './schema.ts';
export * from './store.ts';
