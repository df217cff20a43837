import type { Transporter } from 'nodemailer';
import type { AppConfig } from '../config.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  /** Set by the caller so a resend of the same reminder carries the same Message-ID (receivers can de-duplicate). */
  messageId: string;
}

export interface MailSender {
  send(mail: OutgoingMail): Promise<{ messageId: string }>;
  close(): void;
}

/**
 * SMTP through nodemailer's pooled transport: connections are reused across a
 * tick's emails instead of one TCP+TLS+AUTH handshake per reminder. SMTP_URL
 * (smtp.url) overrides host/port/secure/auth; `from` always comes from config.
 * nodemailer is loaded with the first email: most processes that can send one
 * (every SIP worker, for the usage alerts) never do, and it is ~5 MB resident.
 */
export function smtpMailSender(smtp: AppConfig['smtp'], poolSize: number): MailSender {
  const connection = smtp.url
    ? { url: smtp.url }
    : {
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.auth.user ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
      };
  let transport: Promise<Transporter> | undefined;
  const open = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        ...connection,
        pool: true,
        maxConnections: poolSize,
        maxMessages: 1000,
        connectionTimeout: smtp.timeoutMs,
        greetingTimeout: smtp.timeoutMs,
        socketTimeout: smtp.timeoutMs,
      } as never),
    ));
  return {
    async send(mail) {
      const info = (await (await open()).sendMail({ from: smtp.from, to: mail.to, subject: mail.subject, text: mail.text, messageId: mail.messageId })) as {
        messageId?: string;
      };
      return { messageId: info.messageId ?? mail.messageId };
    },
    close() {
      void transport?.then((t) => t.close());
    },
  };
}

export function fromDomain(from: string): string {
  const m = /@([^>\s]+)>?\s*$/.exec(from);
  return m?.[1] ?? 'switchboard.invalid';
}
