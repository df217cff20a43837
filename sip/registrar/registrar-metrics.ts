import { Counter, Gauge, Registry } from 'prom-client';

/** Prometheus counters of the registrar; one registry per registrar (tests create several). */
export class RegistrarMetrics {
  readonly registry = new Registry();
  readonly registers = new Counter({
    name: 'switchboard_sip_register_total',
    help: 'REGISTER requests by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({ name: 'switchboard_sip_auth_failures_total', help: 'Digest authentication failures', registers: [this.registry] });
  readonly bans = new Counter({ name: 'switchboard_sip_bans_total', help: 'Temporary bans started', labelNames: ['kind'], registers: [this.registry] });
  readonly rejections = new Counter({
    name: 'switchboard_sip_binding_limit_rejections_total',
    help: 'REGISTERs refused by max_bindings',
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'switchboard_sip_binding_evictions_total',
    help: 'Bindings evicted by the at-limit policy',
    labelNames: ['policy'],
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'switchboard_sip_dropped_total',
    help: 'Requests dropped silently',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly sweeps = new Counter({ name: 'switchboard_sip_expired_bindings_total', help: 'Bindings removed by the expiry sweeper', registers: [this.registry] });
  readonly connectionRemovals = new Counter({
    name: 'switchboard_sip_connection_close_removals_total',
    help: 'Bindings removed because their connection closed',
    registers: [this.registry],
  });
  readonly qualifies = new Counter({
    name: 'switchboard_sip_qualify_total',
    help: 'OPTIONS qualify probes by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly refreshWriteFailures = new Counter({
    name: 'switchboard_sip_refresh_write_failures_total',
    help: 'Failed flushes of deferred binding refreshes',
    registers: [this.registry],
  });
  readonly shed = new Counter({
    name: 'switchboard_sip_register_shed_total',
    help: 'REGISTERs answered 503 by the overload gate, by the rule that refused them: in_flight (sip.registrar.overload.maxInFlight in progress), latency (answers slower than targetLatencyMs), queue (the UDP receive queue holding more than maxQueueWaitMs of work)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly conflictRetries = new Counter({
    name: 'switchboard_sip_binding_conflict_retries_total',
    help: 'Binding transactions run again (fresh reads, new decision) after losing a conflict: deadlock, lock wait timeout, busy file, or on Galera a certification failure or brute-force abort (both reported as deadlocks)',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly conflictGiveUps = new Counter({
    name: 'switchboard_sip_binding_conflict_give_ups_total',
    help: 'Binding transactions that lost a conflict on every attempt (the REGISTER is answered 500)',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly liveGauge = new Gauge({ name: 'switchboard_sip_register_in_flight', help: 'REGISTERs being processed', registers: [this.registry] });
  private longestQueueWaitMs = 0;
  /** Each REGISTER's estimated UDP receive-queue wait (SipRequestContext.queueWaitMs); the scrape reads the longest since the last. */
  observeQueueWait(ms: number): void {
    if (ms > this.longestQueueWaitMs) this.longestQueueWaitMs = ms;
  }
  readonly queueWait = new Gauge({
    name: 'switchboard_sip_udp_queue_wait_seconds',
    help: 'Longest estimated wait of the REGISTERs in the UDP receive queue since the last scrape (the kernel holds them there while the process is behind; a phone retransmits past T1, 0.5 s)',
    registers: [this.registry],
    // SIP workers: the primary reports the longest of any worker.
    aggregator: 'max',
    collect: () => {
      this.queueWait.set(this.longestQueueWaitMs / 1000);
      this.longestQueueWaitMs = 0;
    },
  });
}
