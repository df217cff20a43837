import crypto from 'node:crypto';
import type { AppConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { fromDomain, smtpMailSender, type MailSender } from '../jobs/mail-sender.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Transactional mail for the workspace area (invitations), over the same
 * `smtp` settings and nodemailer sender as the OnCall reminders. send()
 * never throws: a mail outage must not undo the change that triggered it, so
 * the caller reports whether the message was accepted.
 */
export class Mailer {
  private sender: MailSender | null = null;

  constructor(
    private readonly smtp: AppConfig['smtp'],
    private readonly logger: Logger,
  ) {}

  async send(message: MailMessage): Promise<boolean> {
    this.sender ??= smtpMailSender(this.smtp, 2);
    try {
      await this.sender.send({ ...message, messageId: `<${crypto.randomUUID()}@${fromDomain(this.smtp.from)}>` });
      return true;
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message }, to: message.to }, 'mail not sent');
      return false;
    }
  }

  close(): void {
    this.sender?.close();
    this.sender = null;
  }
}
