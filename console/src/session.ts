import { api, ok, setUnauthenticatedHandler, type Schemas } from './api';
import { signal } from './state';

export type Me = Schemas['Me'];

/** undefined while the first GET /v1/me runs; null when signed out. */
export const me = signal<Me | null | undefined>(undefined);

setUnauthenticatedHandler(() => me.set(null));

export async function loadMe(): Promise<void> {
  try {
    me.set(await ok(api.GET('/v1/me')));
  } catch {
    me.set(null);
  }
}

export async function signIn(username: string, password: string, otp?: string): Promise<void> {
  await ok(api.POST('/v1/auth/session', { body: { username, password, ...(otp ? { otp } : {}) } }));
  await loadMe();
}

export async function signOut(): Promise<void> {
  await ok(api.DELETE('/v1/auth/session'));
  me.set(null);
}

/** What the console offers each role (the API enforces the same; this only hides what would be refused). */
export function canEdit(m: Me | null | undefined): boolean {
  return m?.role === 'owner' || m?.role === 'admin';
}
export function canView(m: Me | null | undefined): boolean {
  return canEdit(m) || m?.role === 'viewer';
}
