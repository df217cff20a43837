import { useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api';
import { Card, Field, useLoad } from '../ui';

type GroupBy = 'day' | 'user' | 'type';

type UsageType = Schemas['UsageTypeRow']['type'];
type DayRow = Schemas['UsageDayRow'];
type UserRow = Schemas['UsageUserRow'];
type TypeRow = Schemas['UsageTypeRow'];

const TYPES: Array<[UsageType, string]> = [
  ['sms_inbound', 'SMS in'],
  ['sms_outbound', 'SMS out'],
  ['sms_auto_responses', 'Auto-responses'],
  ['sms_segments', 'SMS segments'],
  ['api_requests', 'API requests'],
  ['registrations', 'New registrations'],
  ['active_devices_peak', 'Peak devices'],
];

function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Seed 002: usage by type and by agent. Days are UTC days, as the API keeps them. */
export function Usage() {
  const today = utcDay(new Date());
  const [f, setF] = useState({ since: `${today.slice(0, 8)}01`, until: today, group_by: 'day' as GroupBy });
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [error, setError] = useState<Record<string, string>>({});
  const cursor = cursors[cursors.length - 1];
  const [report, , loading] = useLoad(async () => {
    setError({});
    const query = { since: f.since, until: f.until, group_by: f.group_by, ...(cursor ? { cursor } : {}), ...(f.group_by === 'user' ? { limit: 100 } : {}) };
    try {
      const r = await ok(api.GET('/v1/usage', { params: { query } }));
      // The CSV form shares the path; without format=csv the answer is the JSON report.
      return typeof r === 'string' ? undefined : r;
    } catch (err) {
      const fields = (err as { fieldErrors?: () => Record<string, string> }).fieldErrors?.();
      if (fields && Object.keys(fields).length) {
        setError(fields);
        return undefined;
      }
      throw err;
    }
  }, [f, cursor]);
  const set = (k: keyof typeof f) => (v: string | boolean) => {
    setF({ ...f, [k]: String(v) });
    setCursors([undefined]);
  };
  const csvHref = `/v1/usage?${new URLSearchParams({ since: f.since, until: f.until, group_by: f.group_by, format: 'csv' }).toString()}`;
  const rows = report?.data ?? [];
  const typeRows = f.group_by === 'type' ? (rows as TypeRow[]) : [];
  const tableRows = f.group_by === 'type' ? [] : (rows as Array<DayRow | UserRow>);
  const label = (r: DayRow | UserRow): string => {
    if ('day' in r) return r.day;
    if (r.user_id === null) return 'No user (workspace key)';
    return r.name ? `${r.name} (${r.extension ?? ''})` : `Deleted user ${r.user_id}`;
  };

  return (
    <>
      <Card title="Usage">
        <p class="hint">
          What the workspace used, per UTC day: SMS, API requests, new device registrations and the most devices registered at once. Peaks are the highest day
          in the range; everything else adds up.
        </p>
        <form class="row" role="search" aria-label="Usage range" onSubmit={(e) => e.preventDefault()}>
          <Field label="From" name="usage-since" type="date" value={f.since} onInput={set('since')} error={error.since} />
          <Field label="To" name="usage-until" type="date" value={f.until} onInput={set('until')} error={error.until} />
          <Field
            label="Group by"
            name="usage-group-by"
            value={f.group_by}
            onInput={set('group_by')}
            options={[
              ['day', 'Day'],
              ['user', 'User'],
              ['type', 'Type'],
            ]}
          />
          <a class="button" href={csvHref} download>
            Download CSV
          </a>
        </form>
      </Card>
      <div class="table-wrap" aria-busy={loading ? 'true' : undefined}>
        <table data-testid="usage-table">
          <caption class="sr-only">Usage by {f.group_by}</caption>
          <thead>
            {f.group_by === 'type' ? (
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Amount</th>
                <th scope="col">Over the range</th>
              </tr>
            ) : (
              <tr>
                {f.group_by === 'day' ? <th scope="col">Day</th> : <th scope="col">User</th>}
                {TYPES.map(([k, label]) => (
                  <th scope="col" key={k}>
                    {label}
                  </th>
                ))}
              </tr>
            )}
          </thead>
          <tbody>
            {typeRows.map((r) => (
              <tr key={r.type} data-type={r.type}>
                <td>{TYPES.find(([k]) => k === r.type)?.[1] ?? r.type}</td>
                <td>{Number(r.amount).toLocaleString()}</td>
                <td>{r.aggregation === 'max' ? 'highest day' : 'total'}</td>
              </tr>
            ))}
            {tableRows.map((r) => {
              const key = 'day' in r ? r.day : String(r.user_id ?? 'none');
              return (
                <tr key={key} data-key={key}>
                  <td>{label(r)}</td>
                  {TYPES.map(([k]) => (
                    <td key={k} data-col={k}>
                      {r[k].toLocaleString()}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
        {report && !rows.length && <p>No usage in this range.</p>}
      </div>
      {f.group_by === 'user' && (
        <div class="row">
          <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </button>
          <button type="button" disabled={!report?.next_cursor} onClick={() => setCursors([...cursors, report!.next_cursor!])}>
            Next
          </button>
        </div>
      )}
    </>
  );
}
