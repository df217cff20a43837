/**
 * A UDP socket bound to host:port with SO_REUSEPORT (and IPV6_V6ONLY for
 * family 6), non-blocking and close-on-exec: its file descriptor, for
 * `dgram.Socket.bind({ fd, exclusive: true })`. Throws an Error whose code
 * is EADDRINUSE, EACCES, EADDRNOTAVAIL or ESOCKET.
 */
export function bindReusePort(family: 4 | 6, host: string, port: number): number;
