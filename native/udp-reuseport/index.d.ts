/**
 * A UDP socket bound to host:port (with SO_REUSEPORT when `reusePort`, and
 * IPV6_V6ONLY for family 6), non-blocking and close-on-exec: its file
 * descriptor, for `dgram.Socket.bind({ fd, exclusive: true })`. Throws an
 * Error whose code is EADDRINUSE, EACCES, EADDRNOTAVAIL or ESOCKET.
 */
export function bindUdp(family: 4 | 6, host: string, port: number, reusePort: boolean): number;

/**
 * The bytes a socket's receive queue holds, as the kernel books them
 * (SO_MEMINFO's rmem_alloc: each datagram with its buffer overhead), or -1
 * where the system cannot say (not Linux). Never throws for a valid fd.
 */
export function receiveQueueBytes(fd: number): number;
