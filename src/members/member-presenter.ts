import type { MemberInvitation, User } from '../db/models/index.js';

export interface MemberView {
  id: number | null;
  invitation_id: number | null;
  name: string | null;
  email: string | null;
  role: string;
  owner: boolean;
  status: 'invited' | 'active' | 'disabled';
  expires_at: string | null;
}

export function presentMember(u: User): MemberView {
  return {
    id: u.id,
    invitation_id: null,
    name: u.name,
    email: u.email,
    role: u.role,
    owner: u.role === 'owner',
    status: u.status === 'disabled' ? 'disabled' : 'active',
    expires_at: null,
  };
}

export function presentInvitation(i: MemberInvitation): MemberView {
  return {
    id: i.user_id,
    invitation_id: i.id,
    name: null,
    email: i.email,
    role: i.role,
    owner: false,
    status: 'invited',
    expires_at: i.expires_at.toISOString(),
  };
}
