import { useEffect, useState } from 'preact/hooks';
import { api, ok, type Schemas } from '../api';
import { canEdit, me } from '../session';
import { confirm, fmtDate, toast, toastError } from '../ui';

type Registration = Schemas['Registration'];
/** Registrations change without any action here (phones register, expire, get kicked elsewhere): poll. */
const POLL_MS = 2000;

/** Live registrations, refreshed every 2 s while the page is visible. userId: one user's; self: the caller's own. */
export function useRegistrations(userId?: number): [Registration[] | undefined, () => void] {
  const [data, setData] = useState<Registration[] | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const page = userId
          ? await ok(api.GET('/v1/users/{id}/registrations', { params: { path: { id: userId } } }))
          : await ok(api.GET('/v1/registrations', { params: { query: { limit: 200 } as never } }));
        if (live) setData(page.data);
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
  }, [userId, tick]);
  return [data, () => setTick((t) => t + 1)];
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
  const [rows, reload] = useRegistrations();
  return (
    <div>
      <h1>Devices</h1>
      <p class="muted">Live SIP registrations of the workspace; the table refreshes by itself.</p>
      <DeviceTable rows={rows} onChange={reload} showUser mayKick={canEdit(me.get())} />
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
