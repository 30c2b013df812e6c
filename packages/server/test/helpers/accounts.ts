import { expect } from 'vitest';
import type { HttpClient } from './http.js';

export const PASSWORD = 'correct horse battery';

export interface Account {
  id: string;
  username: string;
  /** `parley_session=…`, ready for a Cookie header. */
  cookie: string;
  /** An API key of this user. */
  key: string;
}

let counter = 0;
export const freshName = (base = 'user') => `${base}${process.pid}x${++counter}`;

/** Registers, logs in and creates a key: a user ready to call any route both ways. */
export async function signUp(http: HttpClient, username = freshName()): Promise<Account> {
  const registered = await http.post('/api/v1/auth/register', { username, password: PASSWORD });
  expect(registered.status).toBe(201);
  const login = await http.post('/api/v1/auth/login', { username, password: PASSWORD });
  expect(login.status).toBe(200);
  const cookie = login.sessionCookie!;
  const key = await http.post('/api/v1/keys', { name: 'test' }, { cookie });
  expect(key.status).toBe(201);
  return { id: registered.body.user.id, username, cookie, key: key.body.key };
}
