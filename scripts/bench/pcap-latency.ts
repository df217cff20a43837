import fs from 'node:fs';

/**
 * Server-side latency from a loopback capture (tcpdump -w, UDP over IPv4):
 * each request to `serverPort` is matched with the first final response
 * from it carrying the same Call-ID and CSeq; retransmitted requests keep
 * their first time. Gives microseconds where sipp's own clock, on this
 * machine, ticks in 4 ms steps.
 */
export interface WireLatency {
  code: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function pcapLatency(file: string, serverPort: number): WireLatency[] {
  const buf = fs.readFileSync(file);
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const scale = magic === 0xa1b2c3d4 ? 1e-6 : magic === 0xa1b23c4d ? 1e-9 : NaN;
  if (Number.isNaN(scale)) throw new Error(`${file}: not a little-endian pcap file`);
  const linkHeader: Record<number, number> = { 0: 4, 1: 14, 113: 16, 276: 20 };
  const skip = linkHeader[buf.readUInt32LE(20)];
  if (skip === undefined) throw new Error(`${file}: unknown link type`);
  const sent = new Map<string, number>();
  const latencies = new Map<string, number[]>();
  for (let at = 24; at + 16 <= buf.length;) {
    const ts = buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * scale;
    const incl = buf.readUInt32LE(at + 8);
    const ip = buf.subarray(at + 16 + skip, at + 16 + incl);
    at += 16 + incl;
    if (ip.length < 28 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    const sport = udp.readUInt16BE(0);
    const dport = udp.readUInt16BE(2);
    const text = udp.subarray(8).toString('latin1');
    const key = `${/\r\n(?:call-id|i)\s*:\s*([^\r\n]*)/i.exec(text)?.[1]?.trim()} ${/\r\ncseq\s*:\s*(\d+)/i.exec(text)?.[1]}`;
    if (dport === serverPort && !text.startsWith('SIP/2.0')) {
      if (!sent.has(key)) sent.set(key, ts);
    } else if (sport === serverPort && text.startsWith('SIP/2.0 ')) {
      const code = text.slice(8, 11);
      const t0 = sent.get(key);
      if (code.startsWith('1') || t0 === undefined) continue;
      sent.delete(key);
      const list = latencies.get(code) ?? [];
      list.push((ts - t0) * 1e6);
      latencies.set(code, list);
    }
  }
  return [...latencies].sort().map(([code, v]) => {
    v.sort((a, b) => a - b);
    const p = (q: number) => Math.round(v[Math.min(v.length - 1, Math.floor(q * v.length))]!);
    return { code, n: v.length, p50: p(0.5), p99: p(0.99), max: Math.round(v[v.length - 1]!) };
  });
}
