// Password hashing for users: bcrypt (bcryptjs, pure JS, no native build).
import bcrypt from "bcryptjs";

/** Cost 10 takes ~100–150 ms per hash in bcryptjs on this 2-core machine: slow for guessing, fine for a login. */
const BCRYPT_ROUNDS = 10;

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, BCRYPT_ROUNDS);
}

export function checkPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

/**
 * Compared against when the user does not exist, so that a login takes as long either way. A
 * constant of the same cost (of a random password nobody knows), not computed at import.
 */
export const DUMMY_HASH = "$2b$10$jYRQ8jK/Z4yh4G9sacGZie5VY3Otk/ud04dQlIZeFkdlSdKoGWVKe";
