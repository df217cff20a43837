import cron from 'node-cron';
import type { Logger } from '../logger.js';
import type { OncallReminderJob } from './oncall-reminder-job.js';

export interface RunningJobs {
  stop(): Promise<void>;
}

/**
 * Runs the OnCall reminder job on its cron schedule, plus once at start: that
 * first run is the catch-up after downtime (reminders that came due while the
 * service was down go out at once, marked late; those of ended shifts are
 * skipped and logged). node-cron's noOverlap keeps one tick at a time per
 * process; across processes the claim in the job does.
 */
export function startJobs(job: OncallReminderJob, schedule: string, logger: Logger): RunningJobs {
  if (!cron.validate(schedule)) throw new Error(`jobs.oncallReminders.schedule "${schedule}" is not a cron expression`);
  let running: Promise<unknown> = Promise.resolve();
  const run = (why: string) => {
    // Ticks of this process run one after another (the catch-up run may still be going when cron fires).
    running = running.then(() => job.runOnce()).catch((err: unknown) => logger.error({ err, job: 'oncall-reminders', why }, 'oncall reminder tick failed'));
    return running;
  };
  void run('catch-up at start');
  const task = cron.schedule(schedule, () => run('scheduled'), { name: 'oncall-reminders', noOverlap: true });
  logger.info({ job: 'oncall-reminders', schedule }, 'job scheduled');
  return {
    async stop() {
      await task.stop();
      await task.destroy();
      await running;
      job.close();
    },
  };
}
