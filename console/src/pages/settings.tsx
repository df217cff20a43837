import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, ok, type Schemas } from '../api';
import { navigate } from '../router';
import { loadMe, me } from '../session';
import { Card, confirm, confirmWith, CopyButton, EyeIcon, Field, fmtDate, LoadMore, OneTimeSecret, toast, toastError, useLoad, usePagedList } from '../ui';
import { ApiKeys } from './my-phone';
import { Usage } from './usage';
import { Telephony } from './telephony';

const SECTIONS: Array<[string, string]> = [
  ['general', 'General'],
  ['members', 'Members'],
  ['telephony', 'Your telephony'],
  ['api-key', 'API key'],
  ['developer', 'Developer'],
  ['usage', 'Usage'],
  ['audit', 'Audit log'],
];

export function SettingsPage({ section }: { section: string }) {
  return (
    <div>
      <h1>Settings</h1>
      <nav class="tabs" aria-label="Settings sections">
        {SECTIONS.map(([k, label]) => (
          <a key={k} href={`/settings/${k}`} aria-current={section === k ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {section === 'general' && <General />}
      {section === 'members' && <Members />}
      {section === 'telephony' && <Telephony />}
      {section === 'api-key' && <WorkspaceKey />}
      {section === 'developer' && <Developer />}
      {section === 'usage' && <Usage />}
      {section === 'audit' && <AuditLog />}
    </div>
  );
}

function timezones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  return intl.supportedValuesOf?.('timeZone') ?? ['UTC'];
}

function General() {
  const [account, reload] = useLoad(() => ok(api.GET('/v1/account')), []);
  const [f, setF] = useState({ name: '', website: '', timezone: 'UTC', default_caller_id_number: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    if (account)
      setF({
        name: account.name,
        website: account.website ?? '',
        timezone: account.timezone,
        default_caller_id_number: account.default_caller_id_number ?? '',
      });
  }, [account]);
  if (!account) return <p>Loading…</p>;
  const set = (k: keyof typeof f) => (v: string | boolean) => setF({ ...f, [k]: String(v) });
  const zones = timezones();
  if (!zones.includes(f.timezone)) zones.unshift(f.timezone);

  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await ok(
        api.PATCH('/v1/account', {
          body: { name: f.name, website: f.website || null, timezone: f.timezone, default_caller_id_number: f.default_caller_id_number || null },
        }),
      );
      toast('Workspace saved', 'ok');
      reload();
      void loadMe();
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) setErrors(err.fieldErrors());
      else toastError(err);
    }
  };

  const upload = async (file: File) => {
    try {
      await ok(
        api.PUT('/v1/account/logo', {
          body: file as never,
          bodySerializer: (b: unknown) => b as Blob,
          headers: { 'Content-Type': file.type || 'application/octet-stream' },
        }),
      );
      toast('Logo updated', 'ok');
      reload();
    } catch (err) {
      toastError(err);
    }
  };

  return (
    <>
      <Card title="Workspace">
        <form onSubmit={save} noValidate>
          <div class="grid">
            <Field label="Workspace name" name="name" value={f.name} onInput={set('name')} error={errors.name} hint="At least 3 characters" />
            <Field label="Company website" name="website" type="url" value={f.website} onInput={set('website')} error={errors.website} />
            <Field label="Timezone" name="timezone" value={f.timezone} onInput={set('timezone')} error={errors.timezone} options={zones.map((z) => [z, z])} />
            <Field
              label="Default caller-ID number"
              name="default_caller_id_number"
              value={f.default_caller_id_number}
              onInput={set('default_caller_id_number')}
              error={errors.default_caller_id_number}
            />
          </div>
          <p class="muted">
            SIP domain (digest realm): <code>{account.sip_domain}</code> · Account id: <code>{account.id}</code>
          </p>
          <button class="primary" type="submit">
            Save
          </button>
        </form>
      </Card>
      <Card title="Logo">
        <div class="row">
          {account.logo_url ? <img src={account.logo_url} alt="Workspace logo" class="icon" width={48} height={48} /> : <span class="muted">No logo</span>}
          <label for="logo-file">Upload a PNG, JPEG or WebP (≤ 1 MB)</label>
          <input
            id="logo-file"
            type="file"
            accept="image/png,image/jpeg,image/webp"
            onChange={(e) => (e.target as HTMLInputElement).files?.[0] && upload((e.target as HTMLInputElement).files![0]!)}
          />
          {account.logo_url && (
            <button type="button" onClick={() => ok(api.DELETE('/v1/account/logo')).then(reload, toastError)}>
              Remove logo
            </button>
          )}
        </div>
      </Card>
      <DangerZone />
    </>
  );
}

function DangerZone() {
  const who = me.get()!;
  const deleteWorkspace = async () => {
    const name = who.account.name;
    const r = await confirmWith(
      'Delete the workspace?',
      'Every user, device, key and setting of this workspace is deleted at once and for good; phones stop registering. This cannot be undone.',
      'Delete workspace',
      { typeToConfirm: name },
    );
    if (!r.ok) return;
    try {
      await ok(api.DELETE('/v1/account', { body: { confirm: name } }));
      toast('The workspace was deleted', 'ok');
      // The session ended with the workspace; only the browser's copy is left to forget.
      me.set(null);
      navigate('/', true);
    } catch (e) {
      toastError(e);
    }
  };
  const leave = async () => {
    if (!(await confirm('Leave the workspace?', 'You lose access at once and must be invited again to come back.', 'Leave workspace'))) return;
    try {
      await ok(api.POST('/v1/account/leave'));
      toast('You left the workspace', 'ok');
      me.set(null);
      navigate('/', true);
    } catch (e) {
      toastError(e);
    }
  };
  return (
    <Card title="Danger zone" class="danger-zone">
      <p>
        Leaving is permanent: you need a new invitation to regain access.{' '}
        {who.role === 'owner' && 'The owner must transfer ownership (Members) before leaving.'}
      </p>
      <button type="button" class="danger" onClick={leave}>
        Leave workspace
      </button>
      {who.role === 'owner' && (
        <>
          <p>Deleting the workspace removes everything in it for every member, immediately and permanently.</p>
          <button type="button" class="danger" onClick={deleteWorkspace}>
            Delete workspace
          </button>
        </>
      )}
    </Card>
  );
}

function Members() {
  const who = me.get()!;
  const members = usePagedList((cursor) => ok(api.GET('/v1/members', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })), []);
  const reload = members.reload;
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'admin' | 'viewer' | 'user'>('user');
  const [errors, setErrors] = useState<Record<string, string>>({});

  const invite = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      const r = await ok(api.POST('/v1/members/invitations', { body: { email, role } }));
      toast(r.email_sent ? `Invitation sent to ${email}` : `Invited ${email}, but the email could not be sent; resend later`, r.email_sent ? 'ok' : 'error');
      setEmail('');
      reload();
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) setErrors(err.fieldErrors());
      else toastError(err);
    }
  };
  const act = async (fn: () => Promise<unknown>, done: string) => {
    try {
      await fn();
      toast(done, 'ok');
      reload();
    } catch (e) {
      toastError(e);
    }
  };
  type Role = Schemas['MemberRole']['role'];
  const changeRole = (m: Schemas['Member'], newRole: string) =>
    m.status === 'invited'
      ? act(
          () => ok(api.PATCH('/v1/members/invitations/{id}', { params: { path: { id: m.invitation_id! } }, body: { role: newRole as Role } })),
          'Invitation role changed',
        )
      : act(() => ok(api.PATCH('/v1/members/{id}', { params: { path: { id: m.id! } }, body: { role: newRole as Role } })), 'Role changed');
  const remove = async (m: Schemas['Member']) => {
    const r = await confirmWith(
      'Remove this member?',
      `${m.email} loses access at once; their tokens and keys stop working. Their phone user (extension, voicemail) stays unless you tick the box.`,
      'Remove',
      { checkbox: 'Also delete the phone user' },
    );
    if (!r.ok) return;
    await act(
      () => ok(api.DELETE('/v1/members/{id}', { params: { path: { id: m.id! }, query: r.checked ? { delete_user: 'true' } : {} } })),
      r.checked ? 'Member and phone user removed' : 'Member removed',
    );
  };

  return (
    <>
      <Card title="Invite a member">
        <form class="row" onSubmit={invite} noValidate>
          <Field label="Email" name="invite-email" type="email" value={email} onInput={(v) => setEmail(String(v))} error={errors.email} />
          <Field
            label="Role"
            name="invite-role"
            value={role}
            onInput={(v) => setRole(v as typeof role)}
            error={errors.role}
            options={[
              ['admin', 'Admin (view & edit)'],
              ['viewer', 'Viewer (view only)'],
              ['user', 'User (own phone)'],
            ]}
          />
          <button class="primary" type="submit">
            Invite
          </button>
        </form>
      </Card>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Members</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {members.rows.map((m) => (
              <tr key={`${m.id}-${m.invitation_id}`} data-email={m.email}>
                <td>{m.name ?? '—'}</td>
                <td>{m.email}</td>
                <td>
                  {m.owner || m.id === who.user_id || (m.status === 'invited' && !m.invitation_id) ? (
                    m.role
                  ) : (
                    <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => changeRole(m, (e.target as HTMLSelectElement).value)}>
                      <option value="admin">admin</option>
                      <option value="viewer">viewer</option>
                      <option value="user">user</option>
                    </select>
                  )}
                </td>
                <td>
                  <span class={`badge ${m.status === 'active' ? 'ok' : m.status === 'invited' ? 'warn' : 'bad'}`}>{m.status}</span>
                  {m.expires_at && <span class="muted"> until {fmtDate(m.expires_at)}</span>}
                </td>
                <td class="row">
                  {m.status === 'invited' && m.invitation_id && (
                    <>
                      <button
                        type="button"
                        onClick={() =>
                          act(
                            () => ok(api.POST('/v1/members/invitations/{id}/resend', { params: { path: { id: m.invitation_id! } } })),
                            'Invitation sent again',
                          )
                        }
                      >
                        Resend
                      </button>
                      <button
                        type="button"
                        onClick={() =>
                          act(() => ok(api.DELETE('/v1/members/invitations/{id}', { params: { path: { id: m.invitation_id! } } })), 'Invitation revoked')
                        }
                      >
                        Revoke
                      </button>
                    </>
                  )}
                  {m.status !== 'invited' && !m.owner && m.id !== who.user_id && (
                    <>
                      {who.role === 'owner' && m.role === 'admin' && (
                        <button
                          type="button"
                          onClick={async () =>
                            (await confirm('Transfer ownership?', `${m.name ?? m.email} becomes the owner; you become an admin.`, 'Transfer')) &&
                            act(() => ok(api.POST('/v1/account/transfer-ownership', { body: { user_id: m.id! } })).then(loadMe), 'Ownership transferred')
                          }
                        >
                          Make owner
                        </button>
                      )}
                      <button type="button" class="danger" onClick={() => remove(m)}>
                        Remove
                      </button>
                    </>
                  )}
                  {m.owner && <span class="muted">Owner</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <LoadMore list={members} what="members" />
    </>
  );
}

function WorkspaceKey() {
  const [account, reloadAccount] = useLoad(() => ok(api.GET('/v1/account')), []);
  const [key, setKey] = useState<string | null>(null);
  const reveal = async () => {
    if (key) return setKey(null);
    try {
      setKey((await ok(api.GET('/v1/account/api-key'))).api_key);
    } catch (e) {
      toastError(e);
    }
  };
  const regenerate = async () => {
    if (
      !(await confirm(
        'Regenerate the API key?',
        'The current key stops working immediately, for every integration that uses it. Update them with the new key.',
        'Regenerate key',
      ))
    )
      return;
    try {
      setKey((await ok(api.POST('/v1/account/api-key/regenerate'))).api_key);
      toast('New API key generated; the old one is refused from now on', 'ok');
      reloadAccount();
    } catch (e) {
      toastError(e);
    }
  };
  const masked = account?.workspace_api_key_last4 ? `••••••••••••••••${account.workspace_api_key_last4}` : '••••••••••••••••';
  return (
    <Card title="Workspace API key">
      <p>
        Integrations send it as the <code>X-API-KEY</code> header. Revealing it is audited.
      </p>
      <div class="row">
        <code class="secret" data-testid="workspace-key">
          {key ?? masked}
        </code>
        <button type="button" onClick={reveal} aria-label={key ? 'Hide the API key' : 'Reveal the API key'} aria-pressed={Boolean(key)}>
          <EyeIcon open={Boolean(key)} />
        </button>
        {key && <CopyButton text={key} label="Copy the API key" />}
        <button type="button" class="danger" onClick={regenerate}>
          Regenerate
        </button>
      </div>
    </Card>
  );
}

const EVENTS: Schemas['CreateWebhook']['events'] = [
  'user.created',
  'user.updated',
  'user.deleted',
  'registration.created',
  'registration.refreshed',
  'registration.removed',
  'registration.expired',
  'registration.rejected',
  'member.invited',
  'member.joined',
  'member.removed',
  'account.owner_transferred',
  'api_key.created',
  'api_key.revoked',
  'oncall.reminder_sent',
];

function Developer() {
  const who = me.get()!;
  const hooks = usePagedList((cursor) => ok(api.GET('/v1/webhooks', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })), []);
  const reload = hooks.reload;
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>(['user.created']);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [secret, setSecret] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      const r = await ok(api.POST('/v1/webhooks', { body: { url, events: events as typeof EVENTS } }));
      setSecret(r.secret);
      setUrl('');
      reload();
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) setErrors(err.fieldErrors());
      else toastError(err);
    }
  };
  return (
    <>
      <Card title="IDs">
        <p>
          Account id <code>{who.account_id}</code> · your user id <code>{who.user_id}</code> · SIP domain <code>{who.account.sip_domain}</code> · API reference:{' '}
          <a href="/docs" data-external>
            /docs
          </a>{' '}
          (
          <a href="/openapi.json" data-external>
            OpenAPI
          </a>
          )
        </p>
      </Card>
      <Card title="API tokens (your keys)">
        <ApiKeys />
      </Card>
      <Card title="Webhooks">
        {secret && <OneTimeSecret label="Signing secret" value={secret} />}
        <form onSubmit={create} noValidate>
          <Field label="URL" name="webhook-url" type="url" value={url} onInput={(v) => setUrl(String(v))} error={errors.url} />
          <fieldset>
            <legend>Events</legend>
            <div class="grid">
              {EVENTS.map((ev) => (
                <Field
                  key={ev}
                  label={ev}
                  name={`event-${ev}`}
                  type="checkbox"
                  value={events.includes(ev)}
                  onInput={(v) => setEvents(v ? [...events, ev] : events.filter((x) => x !== ev))}
                />
              ))}
            </div>
            {errors.events && <span class="error-text">{errors.events}</span>}
          </fieldset>
          <button class="primary" type="submit">
            Add webhook
          </button>
        </form>
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Webhooks</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {hooks.rows.map((h) => (
                <tr key={h.id}>
                  <td>{h.url}</td>
                  <td>{h.events.join(', ')}</td>
                  <td>{h.active ? <span class="badge ok">active</span> : <span class="badge bad">{h.disabled_reason ?? 'inactive'}</span>}</td>
                  <td class="row">
                    <button
                      type="button"
                      onClick={() =>
                        ok(api.POST('/v1/webhooks/{id}/test', { params: { path: { id: h.id } } })).then(() => toast('Ping queued', 'ok'), toastError)
                      }
                    >
                      Send test ping
                    </button>
                    <button type="button" onClick={() => setOpen(open === h.id ? null : h.id)} aria-expanded={open === h.id}>
                      Deliveries
                    </button>
                    <button
                      type="button"
                      class="danger"
                      onClick={async () =>
                        (await confirm('Delete this webhook?', h.url, 'Delete')) &&
                        ok(api.DELETE('/v1/webhooks/{id}', { params: { path: { id: h.id } } })).then(reload, toastError)
                      }
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <LoadMore list={hooks} what="webhooks" />
        {open && <Deliveries id={open} />}
      </Card>
    </>
  );
}

function Deliveries({ id }: { id: number }) {
  const list = usePagedList(
    (cursor) => ok(api.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id }, query: { limit: 100, ...(cursor ? { cursor } : {}) } } })),
    [id],
  );
  const reload = list.reload;
  return (
    <div class="table-wrap">
      <table>
        <caption>Deliveries of webhook {id}</caption>
        <thead>
          <tr>
            <th scope="col">Event</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Last answer</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {list.rows.map((d) => (
            <tr key={d.id}>
              <td>{d.event_type}</td>
              <td>{d.status}</td>
              <td>{d.attempts}</td>
              <td>{d.last_status_code ?? d.last_error ?? '—'}</td>
              <td>{fmtDate(d.created_at)}</td>
              <td>
                <button
                  type="button"
                  onClick={() =>
                    ok(api.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', { params: { path: { id, deliveryId: d.id } } })).then(
                      () => (toast('Redelivery queued', 'ok'), reload()),
                      toastError,
                    )
                  }
                >
                  Redeliver
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <LoadMore list={list} what="deliveries" />
    </div>
  );
}

function AuditLog() {
  const [filters, setFilters] = useState({ action: '', actor_id: '', target_type: '' });
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [page] = useLoad(() => {
    const query: Record<string, unknown> = { limit: 50 };
    for (const [k, v] of Object.entries(filters)) if (v) query[k] = v;
    if (cursor) query.cursor = cursor;
    return ok(api.GET('/v1/audit', { params: { query: query as never } }));
  }, [filters, cursor]);
  const set = (k: keyof typeof filters) => (v: string | boolean) => {
    setFilters({ ...filters, [k]: String(v) });
    setCursors([undefined]);
  };
  return (
    <>
      <div class="row card" role="search">
        <Field label="Action (e.g. user.updated)" name="audit-action" value={filters.action} onInput={set('action')} />
        <Field label="Actor (e.g. user:12)" name="audit-actor" value={filters.actor_id} onInput={set('actor_id')} />
        <Field label="Target type" name="audit-target" value={filters.target_type} onInput={set('target_type')} />
      </div>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Audit log</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Source IP</th>
            </tr>
          </thead>
          <tbody>
            {page?.data.map((a) => (
              <tr key={a.id}>
                <td>{fmtDate(a.created_at)}</td>
                <td>{a.actor_id}</td>
                <td>{a.action}</td>
                <td>
                  {a.target_type} {a.target_id}
                </td>
                <td>{a.source_ip ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="row">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!page?.next_cursor} onClick={() => setCursors([...cursors, page!.next_cursor!])}>
          Older
        </button>
      </div>
    </>
  );
}
