import { useState } from 'preact/hooks';
import { api, ApiError, ok } from '../api';
import { me } from '../session';
import { Card, confirm, Field, fmtDate, LoadMore, OneTimeSecret, toast, toastError, useLoad, usePagedList } from '../ui';
import { DevicePager, DeviceTable, useRegistrations } from './devices';
import { UserForm } from './user';

/** What a plain user may change on their own record (the API refuses the rest with field_not_self_service). */
const SELF_FIELDS = [
  'mobile',
  'call_timeout',
  'forward_mode',
  'forward_destination',
  'notification_email',
  'voicemail_email',
  'oncall_remind_minutes',
  'oncall_remind_email',
  'sms_auto_responder_enabled',
  'sms_auto_response_text',
];

export function MyPhonePage() {
  const who = me.get()!;
  if (!who.user_id) return <p>The workspace key has no phone of its own.</p>;
  return <MyPhone userId={who.user_id} />;
}

function MyPhone({ userId }: { userId: number }) {
  const [user, reload] = useLoad(() => ok(api.GET('/v1/users/{id}', { params: { path: { id: userId } } })), [userId]);
  const devicePages = useRegistrations(userId);
  const devices = devicePages.rows;
  const reloadDevices = devicePages.reload;
  if (!user) return <p>Loading…</p>;
  return (
    <div>
      <h1>My phone</h1>
      <p>
        {user.name} · extension {user.extension} · username <code>{user.username}</code>
      </p>
      <Card title="My settings">
        <UserForm user={user} onSaved={reload} readOnly={false} fields={SELF_FIELDS} />
      </Card>
      <Card title="My devices">
        <DeviceTable rows={devices} onChange={reloadDevices} mayKick />
        <DevicePager pages={devicePages} />
      </Card>
      <Card title="My API keys">
        <ApiKeys />
      </Card>
    </div>
  );
}

/** The caller's own API keys (token + secret; the secret is shown once). */
export function ApiKeys() {
  const keys = usePagedList((cursor) => ok(api.GET('/v1/api-keys', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })), []);
  const reload = keys.reload;
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [created, setCreated] = useState<{ token: string; secret: string } | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await ok(api.POST('/v1/api-keys', { body: { name } }));
      setCreated({ token: r.token, secret: r.secret });
      setName('');
      reload();
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) setError(err.fieldErrors().name ?? err.message);
      else toastError(err);
    }
  };
  const revoke = async (token: string) => {
    if (!(await confirm('Revoke this key?', `${token} and every access token obtained with it stop working at once.`, 'Revoke'))) return;
    try {
      await ok(api.DELETE('/v1/api-keys/{token}', { params: { path: { token } } }));
      toast('Key revoked', 'ok');
      reload();
    } catch (e) {
      toastError(e);
    }
  };
  return (
    <>
      {created && (
        <div class="card once">
          <OneTimeSecret label="Token" value={created.token} />
          <OneTimeSecret label="Secret" value={created.secret} />
        </div>
      )}
      <form class="row" onSubmit={create} noValidate>
        <Field label="New key name" name="api-key-name" value={name} onInput={(v) => setName(String(v))} error={error} />
        <button class="primary" type="submit">
          Create key
        </button>
      </form>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Token</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.rows.map((k) => (
              <tr key={k.token}>
                <td>{k.name}</td>
                <td>
                  <code>{k.token}</code>
                </td>
                <td>{fmtDate(k.created)}</td>
                <td>{fmtDate(k.last_used)}</td>
                <td>
                  <button type="button" class="danger" onClick={() => revoke(k.token)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <LoadMore list={keys} what="API keys" />
    </>
  );
}
