import { useEffect, useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api';
import { canEdit, me } from '../session';
import { confirm, fmtDate, toast, toastError } from '../ui';

type Registration = Schemas['Registration'];
/** Registrations change without any action here (phones register, expire, get kicked elsewhere): poll. */
const POLL_MS = 2000;

const PAGE = 100;

export interface RegistrationPages {
  rows: Registration[] | undefined;
  reload: () => void;
  /** Page number shown (1-based), and moves between pages. */
  page: number;
  hasNext: boolean;
  next: () => void;
  previous: () => void;
}

/**
 * Live registrations, refreshed every 2 s while the page is visible, a page of
 * 100 at a time (keyset cursors; the page shown is the one polled). userId:
 * one user's; none: the whole account's.
 */
export function useRegistrations(userId?: number): RegistrationPages {
  const [data, setData] = useState<{ rows: Registration[]; next: string | null } | undefined>(undefined);
  const [tick, setTick] = useState(0);
  // The cursors of the pages before this one, for Previous (undefined = the first page).
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  useEffect(() => setCursors([undefined]), [userId]);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const query = { limit: PAGE, ...(cursor ? { cursor } : {}) };
        const page = userId
          ? await ok(api.GET('/v1/users/{id}/registrations', { params: { path: { id: userId }, query } }))
          : await ok(api.GET('/v1/registrations', { params: { query } }));
        if (live) setData({ rows: page.data, next: page.next_cursor ?? null });
      } catch (e) {
        if (live) toastError(e);
      }
      if (live) timer = setTimeout(() => void (document.hidden ? (timer = setTimeout(load, POLL_MS)) : load()), POLL_MS);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [userId, tick, cursor]);
  return {
    rows: data?.rows,
    reload: () => setTick((t) => t + 1),
    page: cursors.length,
    hasNext: Boolean(data?.next),
    next: () => data?.next && setCursors([...cursors, data.next]),
    previous: () => cursors.length > 1 && setCursors(cursors.slice(0, -1)),
  };
}

/** Previous/Next under a registrations table, shown once there is more than one page. */
export function DevicePager({ pages }: { pages: RegistrationPages }) {
  if (pages.page === 1 && !pages.hasNext) return null;
  return (
    <div class="row">
      <button type="button" disabled={pages.page < 2} onClick={pages.previous}>
        Previous page
      </button>
      <span class="muted">Page {pages.page}</span>
      <button type="button" disabled={!pages.hasNext} onClick={pages.next}>
        Next page
      </button>
    </div>
  );
}

export function DeviceTable({
  rows,
  onChange,
  showUser,
  mayKick,
}: {
  rows: Registration[] | undefined;
  onChange: () => void;
  showUser?: boolean;
  mayKick: boolean;
}) {
  const kick = async (r: Registration) => {
    if (!(await confirm('Kick this device?', `The binding ${r.contact} is removed now; the device must register again.`, 'Kick'))) return;
    try {
      await ok(api.DELETE('/v1/users/{id}/registrations/{bindingId}', { params: { path: { id: r.user_id, bindingId: r.id } } }));
      toast('Device kicked', 'ok');
      onChange();
    } catch (e) {
      toastError(e);
    }
  };
  return (
    <div class="table-wrap">
      <table aria-live="polite" data-testid="devices">
        <caption class="sr-only">Registered devices</caption>
        <thead>
          <tr>
            {showUser && <th scope="col">AOR</th>}
            <th scope="col">User agent</th>
            <th scope="col">Transport</th>
            <th scope="col">Source</th>
            <th scope="col">Since</th>
            <th scope="col">Expires in</th>
            <th scope="col">Reachable</th>
            {mayKick && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {rows?.map((r) => (
            <tr key={r.id} data-contact={r.contact}>
              {showUser && (
                <td>
                  <a href={`/users/${r.user_id}`}>{r.aor}</a>
                </td>
              )}
              <td>{r.user_agent ?? '—'}</td>
              <td>{r.transport}</td>
              <td>
                {r.source_address}:{r.source_port}
              </td>
              <td>{fmtDate(r.registered_at)}</td>
              <td>{r.expires_in} s</td>
              <td>{r.unreachable ? <span class="badge bad">no</span> : <span class="badge ok">yes</span>}</td>
              {mayKick && (
                <td>
                  <button type="button" onClick={() => kick(r)} aria-label={`Kick ${r.user_agent ?? r.contact}`}>
                    Kick
                  </button>
                </td>
              )}
            </tr>
          ))}
          {rows && !rows.length && (
            <tr>
              <td colSpan={8} class="muted">
                No device is registered.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

export function DevicesPage() {
  const pages = useRegistrations();
  return (
    <div>
      <h1>Devices</h1>
      <p class="muted">Live SIP registrations of the workspace; the table refreshes by itself.</p>
      <DeviceTable rows={pages.rows} onChange={pages.reload} showUser mayKick={canEdit(me.get())} />
      <DevicePager pages={pages} />
    </div>
  );
}

export async function kickAll(userId: number, onDone: () => void): Promise<void> {
  if (!(await confirm('Kick every device of this user?', 'All bindings are removed now; the devices must register again.', 'Kick all'))) return;
  try {
    await ok(api.DELETE('/v1/users/{id}/registrations', { params: { path: { id: userId } } }));
    toast('All devices kicked', 'ok');
    onDone();
  } catch (e) {
    toastError(e);
  }
}
