import net from 'node:net';
import WebSocket from 'ws';

/**
 * What the server under test allocates, through its inspector (started with
 * `--inspect=127.0.0.1:<port>`): V8's sampling heap profiler, told to keep
 * the samples of objects the collector has since freed, so the sum is what
 * was allocated during the sampling and not what is still alive at its end.
 * Unlike CPU time, bytes allocated per registration hardly move with the
 * machine or its neighbours: a change to the hot path shows in it when the
 * CPU figures are lost in the noise.
 */
export class AllocationSampler {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(err: Error): void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id!);
      if (msg.error) waiter.reject(new Error(`inspector: ${msg.error.message}`));
      else waiter.resolve(msg.result);
    });
    // The server exited (or closed its inspector): fail what waits on it rather than hang the bench.
    socket.on('close', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('inspector connection closed'));
      this.pending.clear();
    });
  }

  /** Connects to the inspector of the process listening on 127.0.0.1:`port`. */
  static async connect(port: number): Promise<AllocationSampler> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error(`no inspector target on 127.0.0.1:${port}`);
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const sampler = new AllocationSampler(socket);
    await sampler.call('HeapProfiler.enable');
    return sampler;
  }

  /** Starts sampling: one sample per `intervalBytes` allocated on average (V8's default is 32 KB). */
  async start(intervalBytes = 32_768): Promise<void> {
    await this.call('HeapProfiler.startSampling', {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }

  /** Stops sampling; the bytes allocated since start(), as V8 estimates them from its samples. */
  async stop(): Promise<number> {
    const { profile } = (await this.call('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
    return totalSelfSize(profile.head);
  }

  close(): void {
    this.socket.close();
  }

  private call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }
}

interface SamplingNode {
  selfSize: number;
  children: SamplingNode[];
}

function totalSelfSize(node: SamplingNode): number {
  let sum = node.selfSize;
  for (const child of node.children) sum += totalSelfSize(child);
  return sum;
}

/** A TCP port free on 127.0.0.1 now, for a process about to listen on it (the inspector takes no port 0). */
export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
