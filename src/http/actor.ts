import type { Role } from '../db/models/user.js';

/** Who is acting: resolved once per request from the credential, passed to every service call. */
export interface Actor {
  accountId: number;
  /** The user behind the credential (the key's owner for API keys); null for the workspace key and the system. */
  userId: number | null;
  role: Role;
  kind: 'user' | 'api_key' | 'workspace_key' | 'system';
  /** What the audit log names as the actor (user id, key token, 'system'). */
  actorId: string;
  sourceIp: string | null;
  /** The access token this request came with (kept when its user changes their own password). */
  tokenId?: number;
}

export function systemActor(accountId: number): Actor {
  return { accountId, userId: null, role: 'owner', kind: 'system', actorId: 'system', sourceIp: null };
}
