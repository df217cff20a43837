import bcrypt from 'bcrypt';
import { TOTP, Secret } from 'otpauth';
import type { Models } from '../db/models/index.js';
import type { User } from '../db/models/user.js';
import { UnauthenticatedError } from '../errors.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { LoginThrottle } from './login-throttle.js';

// Compared against when the username is unknown, so both paths cost one bcrypt.
const DUMMY_HASH = bcrypt.hashSync('switchboard-timing-equaliser', 10);

export interface PasswordGrant {
  username: string;
  password: string;
  otp?: string | undefined;
}

export class PasswordLogin {
  constructor(
    private readonly models: Models,
    private readonly throttle: LoginThrottle,
    private readonly secrets: SecretBox,
  ) {}

  /** Returns the user when the credentials (and OTP where required) are right. */
  async verify(grant: PasswordGrant, ip: string): Promise<User> {
    await this.throttle.assertAllowed(grant.username, ip);
    const user = await this.models.User.findOne({ where: { username: grant.username, status: 'active', member_removed_at: null } });
    const ok = await bcrypt.compare(grant.password, user?.password_hash ?? DUMMY_HASH);
    if (!user || !user.password_hash || !ok) {
      await this.throttle.recordFailure(grant.username, ip);
      throw new UnauthenticatedError('invalid_credentials', 'The username or password is wrong');
    }
    if (user.otp_required) {
      if (!user.otp_secret_enc) {
        throw new UnauthenticatedError(
          'otp_not_enrolled',
          'This user must sign in with a one-time code but has no authenticator enrolled; ask an admin to enrol one (POST /v1/users/{id}/otp)',
        );
      }
      if (!grant.otp) throw new UnauthenticatedError('otp_required', 'This user must also send the one-time code from their authenticator in "otp"', 'otp');
      if (!verifyTotp(this.secrets.decrypt(user.otp_secret_enc), grant.otp)) {
        await this.throttle.recordFailure(grant.username, ip);
        throw new UnauthenticatedError('invalid_otp', 'The one-time code is wrong or expired', 'otp');
      }
    }
    await this.throttle.recordSuccess(grant.username);
    return user;
  }
}

export function buildTotp(secretBase32: string, label = 'switchboard'): TOTP {
  return new TOTP({ issuer: 'Switchboard', label, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secretBase32) });
}

export function verifyTotp(secretBase32: string, code: string): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  return buildTotp(secretBase32).validate({ token: code, window: 1 }) !== null;
}
