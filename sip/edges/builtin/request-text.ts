/**
 * The wire text of a request the built-in edge originates (to a carrier or
 * to a registered device): the caller's headers between our Via (a fresh
 * branch, rport asked for, RFC 3581) and Max-Forwards, and Content-Length.
 */
export function requestText(
  req: { method: string; uri: string; target: { transport: string }; headers: readonly string[]; body?: string | undefined },
  local: { host: string; port: number },
  branch: string,
): string {
  const host = local.host.includes(':') ? `[${local.host}]` : local.host;
  const body = req.body ?? '';
  return [
    `${req.method} ${req.uri} SIP/2.0`,
    `Via: SIP/2.0/${req.target.transport.toUpperCase()} ${host}:${local.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    ...req.headers,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}
