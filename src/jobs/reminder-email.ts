import { formatInZone } from '../oncall/zoned-time.js';

export interface ReminderEmailInput {
  userName: string;
  scheduleName: string;
  timeZone: string;
  startsAt: Date;
  endsAt: Date;
  note: string | null;
  remindMinutes: number;
}

/**
 * The reminder says which schedule and when, in the schedule's time zone (the
 * zone the team plans in), and nothing secret: no PIN, no link with a token.
 */
export function reminderEmail(r: ReminderEmailInput): { subject: string; text: string } {
  const starts = formatInZone(r.startsAt, r.timeZone);
  const ends = formatInZone(r.endsAt, r.timeZone);
  const lines = [`Hello ${r.userName},`, '', `You are on call for "${r.scheduleName}".`, '', `Starts: ${starts}`, `Ends:   ${ends}`];
  if (r.note) lines.push(`Note:   ${r.note}`);
  lines.push('', `You get this reminder ${r.remindMinutes} minutes before each OnCall shift; change that in your Switchboard profile.`, '', '-- Switchboard');
  return { subject: `OnCall reminder: ${r.scheduleName} starts ${starts.replace(/ \(.*\)$/, '')}`, text: lines.join('\n') };
}
