import { useState } from 'preact/hooks';
import { api, ApiError, ok } from '../api';
import { canEdit, me } from '../session';
import { Card, confirm, Field, fmtDate, LoadMore, toast, toastError, useLoad, usePagedList } from '../ui';

function useForm<T extends Record<string, string>>(initial: T) {
  const [f, setF] = useState(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const submit =
    (run: () => Promise<unknown>, reset = true) =>
    async (e: Event) => {
      e.preventDefault();
      setErrors({});
      try {
        await run();
        toast('Saved', 'ok');
        if (reset) setF(initial);
      } catch (err) {
        if (err instanceof ApiError && (err.field || err.issues.length)) setErrors(err.fieldErrors());
        else toastError(err);
      }
    };
  return { f, set: (k: keyof T) => (v: string | boolean) => setF({ ...f, [k]: String(v) }), errors, submit };
}

/** A datetime-local value ("2026-03-08T09:00") as an RFC 3339 instant in the browser's zone. */
const instant = (local: string) => (local ? new Date(local).toISOString() : '');

export function OncallPage() {
  const edit = canEdit(me.get());
  const schedules = usePagedList((cursor) => ok(api.GET('/v1/oncall/schedules', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })), []);
  const reload = schedules.reload;
  const [selected, setSelected] = useState<number | null>(null);
  const form = useForm({ name: '', timezone: '' });
  const id = selected ?? schedules.rows[0]?.id ?? null;
  return (
    <div>
      <h1>OnCall</h1>
      {edit && (
        <Card title="New schedule">
          <form
            class="row"
            noValidate
            onSubmit={form.submit(async () => {
              const s = await ok(api.POST('/v1/oncall/schedules', { body: { name: form.f.name, ...(form.f.timezone ? { timezone: form.f.timezone } : {}) } }));
              setSelected(s.id);
              reload();
            })}
          >
            <Field label="Name" name="schedule-name" value={form.f.name} onInput={form.set('name')} error={form.errors.name} />
            <Field
              label="Time zone (default: the workspace's)"
              name="schedule-tz"
              value={form.f.timezone}
              onInput={form.set('timezone')}
              error={form.errors.timezone}
            />
            <button class="primary" type="submit">
              Create schedule
            </button>
          </form>
        </Card>
      )}
      {schedules.loaded && !schedules.rows.length && <p class="muted">No schedule yet.</p>}
      {!!schedules.rows.length && (
        <div class="row">
          <Field
            label="Schedule"
            name="schedule"
            value={String(id)}
            options={schedules.rows.map((s) => [String(s.id), `${s.name} (${s.timezone})`])}
            onInput={(v) => setSelected(Number(v))}
          />
          <LoadMore list={schedules} what="schedules" />
        </div>
      )}
      {id && <Schedule key={id} id={id} edit={edit} />}
    </div>
  );
}

function Schedule({ id, edit }: { id: number; edit: boolean }) {
  const path = { params: { path: { id } } };
  const [now] = useLoad(() => ok(api.GET('/v1/oncall/schedules/{id}/now', path)), [id]);
  const page = (cursor: string | undefined) => ({ params: { path: { id }, query: { limit: 100, ...(cursor ? { cursor } : {}) } } });
  const shifts = usePagedList((cursor) => ok(api.GET('/v1/oncall/schedules/{id}/shifts', page(cursor))), [id]);
  const rotations = usePagedList((cursor) => ok(api.GET('/v1/oncall/schedules/{id}/rotations', page(cursor))), [id]);
  const reloadShifts = shifts.reload;
  const reloadRotations = rotations.reload;
  const shift = useForm({ user_id: '', starts_at: '', ends_at: '', note: '' });
  const rotation = useForm({ name: '', user_ids: '', period_unit: 'weeks', period_count: '1', start_date: '', handoff_time: '09:00' });

  return (
    <>
      <Card title="On call now">
        {now && !now.on_call.length && <p class="muted">Nobody is on call right now.</p>}
        <ul>
          {now?.on_call.map((o) => (
            <li key={o.shift_id}>
              <a href={`/users/${o.user_id}`}>{o.name}</a> (ext. {o.extension}) until {fmtDate(o.ends_at)}
            </li>
          ))}
        </ul>
      </Card>
      <Card title="Shifts">
        {edit && (
          <form
            class="row"
            noValidate
            onSubmit={shift.submit(async () => {
              await ok(
                api.POST('/v1/oncall/schedules/{id}/shifts', {
                  ...path,
                  body: {
                    user_id: Number(shift.f.user_id),
                    starts_at: instant(shift.f.starts_at),
                    ends_at: instant(shift.f.ends_at),
                    note: shift.f.note || null,
                  },
                }),
              );
              reloadShifts();
            })}
          >
            <Field label="User id" name="shift-user" type="number" value={shift.f.user_id} onInput={shift.set('user_id')} error={shift.errors.user_id} />
            <Field
              label="Starts"
              name="shift-start"
              type="datetime-local"
              value={shift.f.starts_at}
              onInput={shift.set('starts_at')}
              error={shift.errors.starts_at}
            />
            <Field label="Ends" name="shift-end" type="datetime-local" value={shift.f.ends_at} onInput={shift.set('ends_at')} error={shift.errors.ends_at} />
            <Field label="Note" name="shift-note" value={shift.f.note} onInput={shift.set('note')} error={shift.errors.note} />
            <button class="primary" type="submit">
              Add shift
            </button>
          </form>
        )}
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Shifts</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Starts</th>
                <th scope="col">Ends</th>
                <th scope="col">Reminder</th>
                <th scope="col">Note</th>
                {edit && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {shifts.rows.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a href={`/users/${s.user_id}`}>user {s.user_id}</a>
                  </td>
                  <td>{fmtDate(s.starts_at)}</td>
                  <td>{fmtDate(s.ends_at)}</td>
                  <td>
                    {s.reminder.status} at {fmtDate(s.reminder.remind_at)}
                  </td>
                  <td>{s.note ?? ''}</td>
                  {edit && (
                    <td>
                      <button
                        type="button"
                        class="danger"
                        onClick={async () =>
                          (await confirm('Delete this shift?', `${fmtDate(s.starts_at)} – ${fmtDate(s.ends_at)}`, 'Delete')) &&
                          ok(api.DELETE('/v1/oncall/schedules/{id}/shifts/{shiftId}', { params: { path: { id, shiftId: s.id } } })).then(
                            reloadShifts,
                            toastError,
                          )
                        }
                      >
                        Delete
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <LoadMore list={shifts} what="shifts" />
      </Card>
      <Card title="Rotations">
        {edit && (
          <form
            noValidate
            onSubmit={rotation.submit(async () => {
              await ok(
                api.POST('/v1/oncall/schedules/{id}/rotations', {
                  ...path,
                  body: {
                    name: rotation.f.name,
                    user_ids: rotation.f.user_ids
                      .split(',')
                      .map((s) => s.trim())
                      .filter(Boolean)
                      .map(Number),
                    period_unit: rotation.f.period_unit as 'days' | 'weeks',
                    period_count: Number(rotation.f.period_count),
                    start_date: rotation.f.start_date,
                    handoff_time: rotation.f.handoff_time,
                  },
                }),
              );
              reloadRotations();
              reloadShifts();
            })}
          >
            <div class="grid">
              <Field label="Name" name="rot-name" value={rotation.f.name} onInput={rotation.set('name')} error={rotation.errors.name} />
              <Field
                label="User ids in order (comma-separated)"
                name="rot-users"
                value={rotation.f.user_ids}
                onInput={rotation.set('user_ids')}
                error={rotation.errors.user_ids}
              />
              <Field
                label="Period"
                name="rot-unit"
                value={rotation.f.period_unit}
                options={[
                  ['days', 'Days'],
                  ['weeks', 'Weeks'],
                ]}
                onInput={rotation.set('period_unit')}
              />
              <Field
                label="Period count"
                name="rot-count"
                type="number"
                value={rotation.f.period_count}
                onInput={rotation.set('period_count')}
                error={rotation.errors.period_count}
              />
              <Field
                label="Start date"
                name="rot-start"
                type="date"
                value={rotation.f.start_date}
                onInput={rotation.set('start_date')}
                error={rotation.errors.start_date}
              />
              <Field
                label="Handoff time"
                name="rot-time"
                type="time"
                value={rotation.f.handoff_time}
                onInput={rotation.set('handoff_time')}
                error={rotation.errors.handoff_time}
              />
            </div>
            <button class="primary" type="submit">
              Add rotation
            </button>
          </form>
        )}
        <ul>
          {rotations.rows.map((r) => (
            <li key={r.id}>
              {r.name}: users {r.user_ids.join(' → ')}, every {r.period_count} {r.period_unit}
            </li>
          ))}
        </ul>
        <LoadMore list={rotations} what="rotations" />
      </Card>
    </>
  );
}
