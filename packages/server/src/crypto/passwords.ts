import argon2 from 'argon2';
import type { PasswordHasher } from '../core/accounts/ports.js';

/** argon2id with the OWASP-recommended minimum cost (19 MiB, 2 passes); hashing runs off the event loop. */
export const argon2PasswordHasher: PasswordHasher = {
  hash: (password) => argon2.hash(password, { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 }),
  verify: async (hash, password) => {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  },
};
