/**
 * Decides an upload's type from its bytes, never from its name or
 * Content-Type header. Three fixed signatures do not justify a dependency
 * (file-type would also accept formats we refuse).
 */
export type LogoType = 'image/png' | 'image/jpeg' | 'image/webp';

export function sniffImage(buf: Buffer): LogoType | 'image/svg+xml' | null {
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  const head = buf
    .subarray(0, 1024)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (head.startsWith('<') && head.includes('<svg')) return 'image/svg+xml';
  return null;
}
