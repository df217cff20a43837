import http from 'node:http';

/**
 * A lean keep-alive HTTP/1.1 client for latency benchmarks. The engines that
 * read Switchboard (FreeSWITCH's libcurl, a Go or C B2BUA) spend next to
 * nothing per request; Node's fetch spends more CPU on its WHATWG streams
 * than the server spends answering, and on a 2-core machine that CPU comes
 * out of the server's share and lands in the measured tail.
 */
export class BenchHttpClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(base: string, maxSockets: number) {
    this.url = new URL(base);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** The status and the whole body (read to the end, as a client must before the socket can carry the next request). */
  request(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string | number> = { ...headers };
      if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
      const req = http.request({ host: this.url.hostname, port: this.url.port, method, path, headers: h, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
