/** The built-in edge on 127.0.0.1 with only its UDP listener, on a port the kernel picks: for tests that drive that one socket. */
export function loopbackUdpOnly(udp: Record<string, unknown> = {}) {
  return {
    host: '127.0.0.1',
    udp: { port: 0, ...udp },
    tcp: { enabled: false },
    ws: { enabled: false },
    tls: { enabled: false },
    wss: { enabled: false },
  };
}
