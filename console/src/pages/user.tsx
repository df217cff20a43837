import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, ok, type Schemas } from '../api';
import { navigate } from '../router';
import { canEdit, me } from '../session';
import { Card, confirm, EyeIcon, Field, OneTimeSecret, toast, toastError, useLoad } from '../ui';
import { DevicePager, DeviceTable, kickAll, useRegistrations } from './devices';

type User = Schemas['User'];
type Form = Record<string, string | boolean>;

/** Every editable field of the user record: [field, label, kind, options?]. */
const FIELDS: Array<[string, string, 'text' | 'number' | 'email' | 'checkbox' | 'select', Array<[string, string]>?]> = [
  ['name', 'Name', 'text'],
  ['extension', 'Extension', 'text'],
  ['username', 'Username', 'text'],
  ['email', 'Email', 'email'],
  [
    'role',
    'Role',
    'select',
    [
      ['user', 'User'],
      ['viewer', 'Viewer'],
      ['admin', 'Admin'],
    ],
  ],
  ['max_bindings', 'Max bindings', 'number'],
  [
    'binding_policy',
    'When max bindings is reached',
    'select',
    [
      ['', 'Account default'],
      ['reject', 'Reject the new device'],
      ['evict_oldest', 'Replace the oldest'],
      ['evict_unreachable', 'Replace an unreachable one'],
    ],
  ],
  ['external_caller_id_name', 'External caller ID name', 'text'],
  ['external_caller_id_number', 'External caller ID number', 'text'],
  ['mobile', 'Mobile', 'text'],
  ['call_timeout', 'Call timeout (s)', 'number'],
  [
    'forward_mode',
    'Forward behaviour',
    'select',
    [
      ['ring_devices', 'Ring devices'],
      ['forward_always', 'Forward always'],
      ['forward_on_no_answer', 'Forward on no answer'],
      ['forward_on_busy', 'Forward on busy'],
      ['voicemail', 'Straight to voicemail'],
    ],
  ],
  ['forward_destination', 'Forward destination', 'text'],
  ['location_id', 'Location id (E911)', 'number'],
  ['mailbox', 'Primary mailbox ("self", "none" or an id)', 'text'],
  ['notification_email', 'Notification email', 'email'],
  ['voicemail_email', 'Voicemail email', 'email'],
  ['fax_service_id', 'Fax service id', 'number'],
  ['oncall_remind_minutes', 'OnCall reminder (minutes before)', 'number'],
  ['oncall_remind_email', 'OnCall reminder email', 'email'],
  ['outbound_sms_number', 'Outbound SMS number', 'text'],
  ['mobile_signaling', 'Mobile signaling', 'select', ['auto', 'udp', 'tcp', 'tls', 'wss', 'push'].map((v): [string, string] => [v, v])],
  ['sms_enabled', 'SMS enabled', 'checkbox'],
  ['sms_auto_responder_enabled', 'SMS auto-responder', 'checkbox'],
  ['sms_auto_response_text', 'Auto-response text', 'text'],
  [
    'call_recording',
    'Call recording',
    'select',
    [
      ['none', 'None'],
      ['inbound', 'Inbound'],
      ['outbound', 'Outbound'],
      ['both', 'Both'],
    ],
  ],
  ['play_recording_announcement', 'Play recording announcement', 'checkbox'],
  ['mailbox_delegations', 'Delegated mailbox ids (comma-separated)', 'text'],
  ['otp_required', 'Require a one-time code at sign-in', 'checkbox'],
  ['billing_contact', 'Billing contact', 'checkbox'],
];

export function toForm(u: User): Form {
  const f: Form = {};
  for (const [k, , kind] of FIELDS) {
    const v = (u as unknown as Record<string, unknown>)[k];
    f[k] = kind === 'checkbox' ? Boolean(v) : v == null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  }
  f.forward_mode = u.forward_behavior.mode;
  f.forward_destination = u.forward_behavior.destination ?? '';
  f.mailbox = u.mailbox ? String(u.mailbox.id) : 'none';
  f.mailbox_delegations = u.mailbox_delegations.join(', ');
  return f;
}

/** Only what changed is sent; empty text means "clear" (null) where the API allows it. */
function toPatch(before: Form, now: Form): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, , kind] of FIELDS) {
    if (before[k] === now[k]) continue;
    const v = now[k]!;
    if (k === 'forward_mode' || k === 'forward_destination') continue;
    if (kind === 'checkbox') body[k] = v;
    else if (kind === 'number') body[k] = v === '' ? null : Number(v);
    else if (k === 'mailbox') body[k] = v === 'self' || v === 'none' ? v : Number(v);
    else if (k === 'mailbox_delegations')
      body[k] = String(v)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(Number);
    else body[k] = v === '' ? null : v;
  }
  if (before.forward_mode !== now.forward_mode || before.forward_destination !== now.forward_destination) {
    body.forward_behavior = { mode: now.forward_mode, destination: now.forward_destination || null };
  }
  return body;
}

/** The API names nested fields with dots (forward_behavior.destination); the form has flat names. */
function mapErrors(e: Record<string, string>): Record<string, string> {
  const out = { ...e };
  if (e['forward_behavior.destination']) out.forward_destination = e['forward_behavior.destination'];
  if (e['forward_behavior.mode']) out.forward_mode = e['forward_behavior.mode'];
  if (e.forward_behavior) out.forward_destination ??= e.forward_behavior;
  return out;
}

export function UserForm({ user, onSaved, readOnly, fields }: { user: User; onSaved: (u: User) => void; readOnly: boolean; fields?: string[] }) {
  const [base, setBase] = useState(toForm(user));
  const [form, setForm] = useState(base);
  const [errors, setErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    const f = toForm(user);
    setBase(f);
    setForm(f);
  }, [user]);

  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    const body = toPatch(base, form);
    if (!Object.keys(body).length) return toast('Nothing changed');
    try {
      const u = await ok(api.PATCH('/v1/users/{id}', { params: { path: { id: user.id } }, body: body as never }));
      toast('Saved', 'ok');
      onSaved(u);
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) {
        setErrors(mapErrors(err.fieldErrors()));
        toast('Some fields need attention', 'error');
      } else toastError(err);
    }
  };

  return (
    <form onSubmit={save} noValidate aria-label="User fields">
      <div class="grid">
        {FIELDS.filter(([k]) => !fields || fields.includes(k)).map(([k, label, kind, options]) => (
          <Field
            key={k}
            label={label}
            name={k}
            type={kind === 'select' ? undefined : kind}
            options={options}
            value={form[k]}
            error={errors[k]}
            readOnly={readOnly}
            onInput={(v) => setForm({ ...form, [k]: v })}
          />
        ))}
      </div>
      {!readOnly && (
        <div class="row">
          <button class="primary" type="submit">
            Save changes
          </button>
          <button type="button" onClick={() => (setForm(base), setErrors({}))}>
            Discard
          </button>
        </div>
      )}
    </form>
  );
}

export function UserPage({ id }: { id: number }) {
  const edit = canEdit(me.get());
  const [user, reload] = useLoad(() => ok(api.GET('/v1/users/{id}', { params: { path: { id } } })), [id]);
  const [current, setCurrent] = useState<User | undefined>(undefined);
  useEffect(() => setCurrent(user), [user]);
  const devicePages = useRegistrations(id);
  const devices = devicePages.rows;
  const reloadDevices = devicePages.reload;
  if (!current) return <p>Loading…</p>;

  const remove = async () => {
    if (!(await confirm(`Delete ${current.name}?`, 'The user, their devices and their API keys stop working at once. This cannot be undone.', 'Delete user')))
      return;
    try {
      await ok(api.DELETE('/v1/users/{id}', { params: { path: { id } } }));
      toast('User deleted', 'ok');
      navigate('/users');
    } catch (e) {
      toastError(e);
    }
  };

  const setStatus = async (status: 'active' | 'disabled') => {
    if (
      status === 'disabled' &&
      !(await confirm(`Disable ${current.name}?`, 'Sign-in, tokens, API keys and phones stop at once until the user is enabled again.', 'Disable user'))
    )
      return;
    try {
      setCurrent(await ok(api.PATCH('/v1/users/{id}', { params: { path: { id } }, body: { status } })));
      toast(status === 'disabled' ? 'User disabled' : 'User enabled', 'ok');
      reloadDevices();
    } catch (e) {
      toastError(e);
    }
  };

  return (
    <div>
      <div class="row spread">
        <h1>
          {current.name} <span class="muted">ext. {current.extension}</span>
        </h1>
        <div class="row">
          <span class={`badge ${current.status === 'active' ? 'ok' : current.status === 'disabled' ? 'bad' : 'warn'}`} data-testid="user-status">
            {current.status}
          </span>
          {edit &&
            current.status !== 'invited' &&
            (current.status === 'disabled' ? (
              <button type="button" onClick={() => setStatus('active')}>
                Enable
              </button>
            ) : (
              <button type="button" class="danger" onClick={() => setStatus('disabled')}>
                Disable
              </button>
            ))}
        </div>
      </div>
      <Card title="Fields">
        <UserForm user={current} onSaved={setCurrent} readOnly={!edit} />
      </Card>
      {edit && <SipSecrets userId={id} />}
      <Card title="Devices">
        <DeviceTable rows={devices} onChange={reloadDevices} mayKick={edit} />
        <DevicePager pages={devicePages} />
        {edit && !!devices?.length && (
          <button type="button" onClick={() => kickAll(id, reloadDevices)}>
            Kick all devices
          </button>
        )}
      </Card>
      {edit && current.role !== 'owner' && (
        <Card title="Danger zone" class="danger-zone">
          <button type="button" class="danger" onClick={remove}>
            Delete user
          </button>
        </Card>
      )}
      <button type="button" class="link" onClick={reload}>
        Reload
      </button>
    </div>
  );
}

function SipSecrets({ userId }: { userId: number }) {
  const [password, setPassword] = useState<string | null>(null);
  const [pin, setPin] = useState<string | null>(null);
  const reveal = async () => {
    if (password) return setPassword(null);
    try {
      setPassword((await ok(api.GET('/v1/users/{id}/sip-password', { params: { path: { id: userId } } }))).sip_password);
    } catch (e) {
      toastError(e);
    }
  };
  const rotate = async () => {
    if (
      !(await confirm(
        'Rotate the SIP password?',
        'Devices must be set up with the new password; the old one keeps registering for a short grace period.',
        'Rotate',
      ))
    )
      return;
    try {
      setPassword((await ok(api.POST('/v1/users/{id}/sip-password', { params: { path: { id: userId } }, body: {} }))).sip_password);
      toast('New SIP password set', 'ok');
    } catch (e) {
      toastError(e);
    }
  };
  const newPin = async () => {
    try {
      setPin((await ok(api.POST('/v1/users/{id}/oncall-pin', { params: { path: { id: userId } } }))).oncall_pin);
    } catch (e) {
      toastError(e);
    }
  };
  return (
    <Card title="SIP password and OnCall PIN">
      <div class="row">
        <code class="secret" data-testid="sip-password">
          {password ?? '••••••••••••'}
        </code>
        <button
          type="button"
          onClick={reveal}
          aria-label={password ? 'Hide the SIP password' : 'Reveal the SIP password (audited)'}
          aria-pressed={Boolean(password)}
        >
          <EyeIcon open={Boolean(password)} />
        </button>
        <button type="button" onClick={rotate}>
          Rotate SIP password
        </button>
        <button type="button" onClick={newPin}>
          New OnCall PIN
        </button>
      </div>
      {pin && <OneTimeSecret label="OnCall PIN" value={pin} />}
      <p class="hint muted">Every reveal is written to the audit log.</p>
    </Card>
  );
}
