/** Per-IP and global caps on concurrent stream connections. */
export class ConnectionLimiter {
  private readonly perIp = new Map<string, number>();
  private total = 0;
  private readonly maxPerIp: number;
  private readonly maxTotal: number;

  constructor(maxPerIp: number, maxTotal: number) {
    this.maxPerIp = maxPerIp;
    this.maxTotal = maxTotal;
  }

  canAcquire(ip: string): boolean {
    return this.total < this.maxTotal && (this.perIp.get(ip) ?? 0) < this.maxPerIp;
  }

  tryAcquire(ip: string): boolean {
    const current = this.perIp.get(ip) ?? 0;
    if (this.total >= this.maxTotal || current >= this.maxPerIp) return false;
    this.perIp.set(ip, current + 1);
    this.total += 1;
    return true;
  }

  release(ip: string): void {
    const current = this.perIp.get(ip);
    if (current === undefined) return;
    if (current <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, current - 1);
    this.total -= 1;
  }

  get count(): number {
    return this.total;
  }
}
