import { OptimisticLockError, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { SqlEntityManager as EntityManager } from '@mikro-orm/sql';

const ATTEMPTS = 3;

/**
 * Runs `work` in one transaction, again (up to 3 times in all) when it lost a race: two requests
 * creating the same record (the unique index refuses the second insert) or a writer that did not
 * take the row lock (the version check refuses the stale update). A retry starts from a fresh
 * read, so it sees the winner's row and replaces or patches it instead of failing the client.
 */
export async function inTransaction<T>(
  em: EntityManager,
  work: (tx: EntityManager) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.fork().transactional(work);
    } catch (error) {
      const lostRace =
        error instanceof UniqueConstraintViolationException || error instanceof OptimisticLockError;
      if (!lostRace || attempt >= ATTEMPTS) throw error;
    }
  }
}
