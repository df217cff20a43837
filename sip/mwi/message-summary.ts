/** What a message-summary body reports (RFC 3842 §5.2). */
export interface MessageSummary {
  /** The account the counts are for (RFC 3842 §5.2 Message-Account): the user's AOR. */
  account: string;
  new: number;
  old: number;
  urgentNew: number;
  urgentOld: number;
}

export const MESSAGE_SUMMARY_TYPE = 'application/simple-message-summary';

/**
 * The `application/simple-message-summary` body (RFC 3842 §5.2):
 * "Messages-Waiting: yes" exactly when there are new messages, then the
 * account and the voice-message counts `new/old (urgent_new/urgent_old)`.
 */
export function messageSummaryBody(s: MessageSummary): string {
  return [
    `Messages-Waiting: ${s.new > 0 ? 'yes' : 'no'}`,
    `Message-Account: ${s.account}`,
    `Voice-Message: ${s.new}/${s.old} (${s.urgentNew}/${s.urgentOld})`,
    '',
  ].join('\r\n');
}
