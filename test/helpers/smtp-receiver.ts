import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  messageId: string;
  text: string;
  raw: string;
}

export interface SmtpReceiver {
  port: number;
  url: string;
  messages: ReceivedMail[];
  /** Stops listening (the "SMTP outage"); start() listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  waitFor(count: number, timeoutMs?: number): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1 (smtp-server, the server half of
 * nodemailer's project) that keeps what it receives, with AUTH PLAIN/LOGIN
 * checked against the given credentials.
 */
export async function startSmtpReceiver(opts: { user?: string; pass?: string; port?: number } = {}): Promise<SmtpReceiver> {
  const user = opts.user ?? 'mailer';
  const pass = opts.pass ?? 'mail-secret';
  const messages: ReceivedMail[] = [];
  let server: SMTPServer | null = null;
  let port = opts.port ?? 0;

  const listen = async () => {
    server = new SMTPServer({
      logger: false,
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authOptional: false,
      size: 1024 * 1024,
      // An outage is abrupt: drop pooled client connections at once instead of waiting 30 s for them.
      closeTimeout: 50,
      onAuth(auth, _session, cb) {
        if (auth.username === user && auth.password === pass) cb(null, { user: auth.username });
        else cb(new Error('Invalid username or password'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          messages.push(
            parse(
              Buffer.concat(chunks).toString('utf8'),
              session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              session.envelope.rcptTo.map((r) => r.address),
            ),
          );
          cb();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.server.address() as AddressInfo).port;
  };
  await listen();

  return {
    get port() {
      return port;
    },
    get url() {
      return `smtp://${user}:${pass}@127.0.0.1:${port}`;
    },
    messages,
    async stop() {
      if (!server) return;
      const s = server;
      server = null;
      await new Promise<void>((r) => s.close(() => r()));
    },
    start: listen,
    async waitFor(count, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > until) throw new Error(`expected ${count} emails, received ${messages.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

function parse(raw: string, from: string, to: string[]): ReceivedMail {
  const sep = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, sep).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(sep + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  if (/quoted-printable/i.test(headers.get('content-transfer-encoding') ?? '')) {
    body = Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  } else if (/base64/i.test(headers.get('content-transfer-encoding') ?? '')) {
    body = Buffer.from(body, 'base64').toString('utf8');
  }
  return { from, to, subject: headers.get('subject') ?? '', messageId: headers.get('message-id') ?? '', text: body.replace(/\r\n/g, '\n'), raw };
}
