import nodemailer, { type Transporter } from 'nodemailer';
import type { AppConfig } from '../config.js';
import type { Logger } from '../logger.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Outgoing mail over SMTP (nodemailer: pooled connections, STARTTLS, auth,
 * address encoding — none of which is worth re-writing). With no SMTP host
 * configured, send() reports false and the caller tells the admin.
 */
export class Mailer {
  private transport: Transporter | null = null;

  constructor(private readonly config: AppConfig['mail'], private readonly logger: Logger) {}

  get configured(): boolean {
    return this.config.smtp.host !== '';
  }

  /** True when the SMTP server accepted the message. Never throws: a mail outage must not undo the change that triggered it. */
  async send(message: MailMessage): Promise<boolean> {
    if (!this.configured) return false;
    this.transport ??= nodemailer.createTransport({
      host: this.config.smtp.host,
      port: this.config.smtp.port,
      secure: this.config.smtp.secure,
      ignoreTLS: this.config.smtp.ignoreTLS,
      auth: this.config.smtp.user ? { user: this.config.smtp.user, pass: this.config.smtp.pass } : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
    });
    try {
      await this.transport.sendMail({ from: this.config.from, to: message.to, subject: message.subject, text: message.text });
      return true;
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message }, to: message.to }, 'mail not sent');
      return false;
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = null;
  }
}
