import type net from 'node:net';
import type { SipAddress } from '../message/types.js';

/** Starts a stream or WebSocket listener and resolves with the address it bound (port 0 picks one). */
export function listenServer(server: net.Server, host: string, port: number): Promise<SipAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address() as net.AddressInfo;
      resolve({ address: addr.address, port: addr.port });
    });
  });
}
