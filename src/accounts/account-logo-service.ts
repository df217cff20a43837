import crypto from 'node:crypto';
import type { Sequelize } from 'sequelize';
import type { AccountLogo, Models } from '../db/models/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import { NotFoundError, RuleError } from '../errors.js';
import type { Actor } from '../http/actor.js';
import { requireAccountAdmin } from './account-policy.js';
import { sniffImage } from './image-sniff.js';

export const MAX_LOGO_BYTES = 1_048_576;

/**
 * Workspace logos: PNG, JPEG or WebP, ≤ 1 MB, type decided by content.
 * SVG is refused rather than sanitised: an SVG is a document that can carry
 * script, event handlers, external references and CSS, and sanitising it
 * safely needs a full DOM sanitiser (DOMPurify + jsdom) kept current against
 * new bypasses; a raster logo loses nothing for a workspace switcher icon.
 */
export class AccountLogoService {
  constructor(private readonly d: { sequelize: Sequelize; models: Models; audit: AuditLog }) {}

  async upload(actor: Actor, data: Buffer): Promise<void> {
    requireAccountAdmin(actor);
    if (!data.length)
      throw new RuleError('empty_upload', 'Send the image bytes as the request body (Content-Type: image/png, image/jpeg or image/webp)', 'logo');
    if (data.length > MAX_LOGO_BYTES) throw new RuleError('logo_too_large', `The logo must be at most ${MAX_LOGO_BYTES} bytes (got ${data.length})`, 'logo');
    const type = sniffImage(data);
    if (type === 'image/svg+xml') {
      throw new RuleError('svg_not_accepted', 'SVG logos are not accepted because SVG can carry script; upload a PNG, JPEG or WebP export instead', 'logo');
    }
    if (!type)
      throw new RuleError('unsupported_image_type', 'The upload is not a PNG, JPEG or WebP image (checked by content, not by name or Content-Type)', 'logo');
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    await this.d.sequelize.transaction(async (tx) => {
      const existing = await this.d.models.AccountLogo.findByPk(actor.accountId, { attributes: ['account_id', 'sha256', 'content_type'], transaction: tx });
      if (existing) await this.d.models.AccountLogo.update({ content_type: type, sha256, data }, { where: { account_id: actor.accountId }, transaction: tx });
      else await this.d.models.AccountLogo.create({ account_id: actor.accountId, content_type: type, sha256, data }, { transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'account.logo_updated',
        targetType: 'account',
        targetId: actor.accountId,
        before: existing ? { logo_sha256: existing.sha256, content_type: existing.content_type } : null,
        after: { logo_sha256: sha256, content_type: type, bytes: data.length },
      });
    });
  }

  async remove(actor: Actor): Promise<void> {
    requireAccountAdmin(actor);
    await this.d.sequelize.transaction(async (tx) => {
      const existing = await this.d.models.AccountLogo.findByPk(actor.accountId, { attributes: ['account_id', 'sha256'], transaction: tx });
      if (!existing) throw new NotFoundError('logo', actor.accountId);
      await this.d.models.AccountLogo.destroy({ where: { account_id: actor.accountId }, transaction: tx });
      await this.d.audit.record(tx, actor, {
        action: 'account.logo_removed',
        targetType: 'account',
        targetId: actor.accountId,
        before: { logo_sha256: existing.sha256 },
      });
    });
  }

  /** Public read by content address: the URL names the bytes, so it can be cached forever. */
  async find(accountId: number, shaPrefix: string): Promise<AccountLogo> {
    const logo = await this.d.models.AccountLogo.findByPk(accountId);
    if (!logo || !logo.sha256.startsWith(shaPrefix) || shaPrefix.length < 16) throw new NotFoundError('logo', accountId);
    return logo;
  }
}
