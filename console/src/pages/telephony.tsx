import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, ok, type Schemas } from '../api';
import { Card, confirm, Field, fmtDate, LoadMore, toast, toastError, usePagedList } from '../ui';
import { providerTypeLabel } from './resources';

type Provider = Schemas['TelephonyProvider'];
type ProviderType = Provider['type'];
type SyncResult = Schemas['NumberSyncResult'];
type Registration = NonNullable<Provider['registration']>;

/** One input of a provider type's form: key, label, input type. */
type Input = [string, string, 'text' | 'password' | 'number' | 'checkbox'];

/** What each type asks for, as the API's schemas name it (credentials are sent whole, settings only for trunks). */
const CREDENTIALS: Record<ProviderType, Input[]> = {
  twilio: [
    ['account_sid', 'Account SID', 'text'],
    ['auth_token', 'Auth token', 'password'],
  ],
  telnyx: [['api_key', 'API key (v2)', 'password']],
  plivo: [
    ['auth_id', 'Auth ID', 'text'],
    ['auth_token', 'Auth token', 'password'],
  ],
  sip_trunk: [
    ['username', 'Username', 'text'],
    ['password', 'Password', 'password'],
  ],
};
const TRUNK_SETTINGS: Input[] = [
  ['host', 'Registrar / proxy host', 'text'],
  ['port', 'Port', 'number'],
  ['realm', 'Digest realm (optional)', 'text'],
  ['from_domain', 'From domain (optional; the host when empty)', 'text'],
  ['expires', 'Registration lifetime (s)', 'number'],
  ['register', 'Register with the carrier', 'checkbox'],
];
const TYPES: ProviderType[] = ['twilio', 'telnyx', 'plivo', 'sip_trunk'];
/** Trunk registrations change on their own (refresh, carrier restart, failure): the page polls them. */
const POLL_MS = 2000;

type Form = Record<string, string | boolean>;

function credentialsOf(type: ProviderType, f: Form): Record<string, string> {
  return Object.fromEntries(CREDENTIALS[type].map(([k]) => [k, String(f[`credentials.${k}`] ?? '').trim()]));
}

/** The form names of a type's credential inputs, for matching the API's field errors to them. */
function credentialNames(type: ProviderType): string[] {
  return CREDENTIALS[type].map(([k]) => `credentials.${k}`);
}

function trunkSettingsOf(f: Form): Record<string, unknown> {
  const s: Record<string, unknown> = {
    host: String(f['settings.host'] ?? '').trim(),
    transport: f['settings.transport'] || 'udp',
    register: Boolean(f['settings.register']),
  };
  for (const k of ['port', 'expires'] as const) if (f[`settings.${k}`] !== '' && f[`settings.${k}`] !== undefined) s[k] = Number(f[`settings.${k}`]);
  for (const k of ['realm', 'from_domain'] as const) if (String(f[`settings.${k}`] ?? '').trim()) s[k] = String(f[`settings.${k}`]).trim();
  return s;
}

/**
 * An API refusal split for a form: messages for the inputs it names, and the
 * rest (the carrier refusing the credentials, the carrier unreachable) for
 * the form itself, so it shows where the admin is looking, not in a toast.
 */
function splitError(err: unknown, inputs: string[]): { fields: Record<string, string>; form: string | null } {
  if (!(err instanceof ApiError)) return { fields: {}, form: String((err as Error)?.message ?? err) };
  const all = err.fieldErrors();
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const [k, m] of Object.entries(all)) {
    if (inputs.includes(k)) fields[k] = m;
    else rest.push(m);
  }
  if (!Object.keys(all).length) rest.push(err.message);
  return { fields, form: rest.length ? rest.join(' ') : null };
}

function FormAlert({ text }: { text: string | null }) {
  if (!text) return null;
  return (
    <p class="error-text form-error" role="alert" data-testid="form-error">
      {text}
    </p>
  );
}

/** A type's credential inputs, added or rotated alike, with the error the API gives the credentials as a whole. */
function CredentialFields({
  type,
  form,
  errors,
  set,
}: {
  type: ProviderType;
  form: Form;
  errors: Record<string, string>;
  set: (k: string, v: string | boolean) => void;
}) {
  return (
    <>
      <div class="grid">
        <Inputs inputs={CREDENTIALS[type]} prefix="credentials" form={form} errors={errors} set={set} />
      </div>
      {errors.credentials && (
        <span class="error-text" role="alert">
          {errors.credentials}
        </span>
      )}
    </>
  );
}

function Inputs({
  inputs,
  prefix,
  form,
  errors,
  set,
}: {
  inputs: Input[];
  prefix: string;
  form: Form;
  errors: Record<string, string>;
  set: (k: string, v: string | boolean) => void;
}) {
  return (
    <>
      {inputs.map(([k, label, type]) => (
        <Field
          key={k}
          label={label}
          name={`${prefix}.${k}`}
          type={type}
          value={form[`${prefix}.${k}`] ?? ''}
          error={errors[`${prefix}.${k}`]}
          autoComplete={type === 'password' ? 'new-password' : 'off'}
          onInput={(v) => set(`${prefix}.${k}`, v)}
        />
      ))}
    </>
  );
}

/** What an import did: {added, updated, missing, conflicts}, each counted and listed. */
export function SyncResultView({ result, title }: { result: SyncResult; title: string }) {
  const parts: Array<[string, string[]]> = [
    ['Added', result.added],
    ['Updated', result.updated],
    ['Missing at the carrier', result.missing.map((m) => `${m.e164} (${m.action === 'removed' ? 'removed' : 'kept, still in use'})`)],
    [
      'Conflicts',
      result.conflicts.map((c) => `${c.e164} (${c.reason === 'held_by_another_account' ? 'held by another workspace' : 'held by another provider'})`),
    ],
  ];
  return (
    <div class="sync-result" role="status" data-testid="sync-result">
      <h3>{title}</h3>
      <dl class="counts">
        {parts.map(([label, items]) => (
          <div key={label} data-count={label.split(' ')[0]!.toLowerCase()}>
            <dt>{label}</dt>
            <dd>
              <strong>{items.length}</strong>
              {items.length > 0 && <span class="muted"> {items.join(', ')}</span>}
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

function RegistrationView({ reg }: { reg: Registration }) {
  const badge = reg.state === 'registered' ? 'ok' : reg.state === 'failed' ? 'bad' : 'warn';
  return (
    <dl class="details" data-testid="registration">
      <div>
        <dt>Registration</dt>
        <dd>
          <span class={`badge ${badge}`} data-state={reg.state}>
            {reg.state}
          </span>
          {reg.since && <span class="muted"> since {fmtDate(reg.since)}</span>}
        </dd>
      </div>
      <div>
        <dt>Last answer</dt>
        <dd>{reg.last_status ?? '—'}</dd>
      </div>
      {reg.last_error && (
        <div>
          <dt>Last error</dt>
          <dd class="error-text">{reg.last_error}</dd>
        </div>
      )}
      <div>
        <dt>Expires</dt>
        <dd>{fmtDate(reg.expires_at)}</dd>
      </div>
    </dl>
  );
}

const REFERRER_LINKS: Record<string, (id: number) => string> = {
  users: (id) => `/users/${id}`,
  fax_services: () => '/fax-services',
  numbers: () => '/numbers',
  account: () => '/settings/general',
};

/** 409 in_use: what still points at the provider's numbers, each a link to where it is changed. */
function InUse({ error }: { error: ApiError }) {
  const refs = (error.extra.referenced_by ?? {}) as Record<string, number[]>;
  return (
    <div class="error-text form-error" role="alert" data-testid="in-use">
      <p>{error.message}</p>
      <ul>
        {Object.entries(refs).map(([kind, ids]) => (
          <li key={kind}>
            {kind.replace(/_/g, ' ')}:{' '}
            {ids.map((id, i) => (
              <span key={id}>
                {i > 0 && ', '}
                <a href={(REFERRER_LINKS[kind] ?? (() => '#'))(id)}>{kind === 'account' ? 'workspace default caller ID' : id}</a>
              </span>
            ))}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function Telephony() {
  const list = usePagedList((cursor) => ok(api.GET('/v1/telephony/providers', { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } } })), []);
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<Provider | null>(null);
  // Newer registration states from polling, by provider id (the rest of a row comes from the list).
  const [live, setLive] = useState<Record<number, Registration | null>>({});
  const watching = list.rows.some((p) => p.type === 'sip_trunk' && p.registration && p.registration.state !== 'disabled');

  useEffect(() => {
    if (!watching) return;
    let on = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      if (!document.hidden) {
        try {
          const page = await ok(api.GET('/v1/telephony/providers', { params: { query: { type: 'sip_trunk', limit: 200 } } }));
          if (on) setLive(Object.fromEntries(page.data.map((p) => [p.id, p.registration])));
        } catch {
          // The next round tries again; a lasting problem shows on the next action.
        }
      }
      if (on) timer = setTimeout(() => void poll(), POLL_MS);
    };
    timer = setTimeout(() => void poll(), POLL_MS);
    return () => {
      on = false;
      clearTimeout(timer);
    };
  }, [watching]);

  const rows = list.rows.map((p) => (p.id in live ? { ...p, registration: live[p.id] ?? null } : p));
  return (
    <>
      <Card title="Your telephony">
        <p>
          Connect the workspace's own carrier (Twilio, Telnyx, Plivo) to import its numbers, or a SIP trunk to register with it. Without one, the platform's
          default telephony is used and numbers are added by hand on the <a href="/numbers">Numbers</a> page.
        </p>
        {!adding && (
          <button class="primary" type="button" onClick={() => (setAdding(true), setCreated(null))}>
            Add provider
          </button>
        )}
        {adding && (
          <AddProvider
            onCancel={() => setAdding(false)}
            onCreated={(p) => {
              setAdding(false);
              setCreated(p);
              list.reload();
            }}
          />
        )}
        {created && (
          <div class="card once" data-testid="provider-created">
            <p>
              <strong>{created.name}</strong> is connected.{' '}
              {created.type === 'sip_trunk' ? (
                <>
                  Add its numbers on the <a href="/numbers">Numbers</a> page, choosing this trunk as their provider.
                </>
              ) : (
                <>
                  Its numbers are on the <a href="/numbers">Numbers</a> page.
                </>
              )}
            </p>
            {created.sync && <SyncResultView result={created.sync} title="First import" />}
          </div>
        )}
      </Card>
      {list.loaded && !rows.length && <p class="muted">No provider yet: the workspace uses the default telephony.</p>}
      {rows.map((p) => (
        <ProviderCard key={p.id} provider={p} onChange={list.reload} />
      ))}
      <LoadMore list={list} what="providers" />
    </>
  );
}

function AddProvider({ onCreated, onCancel }: { onCreated: (p: Provider) => void; onCancel: () => void }) {
  const [type, setType] = useState<ProviderType>('twilio');
  const [form, setForm] = useState<Form>({ 'settings.port': '5060', 'settings.expires': '3600', 'settings.transport': 'udp' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: string, v: string | boolean) => setForm({ ...form, [k]: v });
  const inputs = [
    'name',
    'type',
    'credentials',
    ...credentialNames(type),
    ...(type === 'sip_trunk' ? [...TRUNK_SETTINGS.map(([k]) => `settings.${k}`), 'settings.transport'] : []),
  ];

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    setBusy(true);
    try {
      const name = String(form.name ?? '').trim();
      const credentials = credentialsOf(type, form);
      const body =
        type === 'sip_trunk'
          ? { type, name, credentials, settings: trunkSettingsOf(form) }
          : // The carriers' credentials are checked with the carrier and their numbers imported before the answer comes.
            { type, name, credentials, settings: {} };
      const p = await ok(api.POST('/v1/telephony/providers', { body: body as Schemas['CreateTelephonyProvider'] }));
      toast(`${p.name} connected`, 'ok');
      onCreated(p);
    } catch (err) {
      const s = splitError(err, inputs);
      setErrors(s.fields);
      setFormError(s.form);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-label="Add provider" data-testid="add-provider">
      <div class="grid">
        <Field
          label="Provider"
          name="type"
          value={type}
          options={TYPES.map((t): [string, string] => [t, providerTypeLabel(t)])}
          error={errors.type}
          onInput={(v) => setType(v as ProviderType)}
        />
        <Field label="Name" name="name" value={form.name ?? ''} error={errors.name} onInput={(v) => set('name', v)} hint="How the workspace calls it" />
      </div>
      <fieldset>
        <legend>{providerTypeLabel(type)} credentials</legend>
        <CredentialFields type={type} form={form} errors={errors} set={set} />
      </fieldset>
      {type === 'sip_trunk' && (
        <fieldset>
          <legend>Trunk settings</legend>
          <div class="grid">
            <Inputs inputs={TRUNK_SETTINGS.slice(0, 2)} prefix="settings" form={form} errors={errors} set={set} />
            <Field
              label="Transport"
              name="settings.transport"
              value={form['settings.transport'] ?? 'udp'}
              options={[
                ['udp', 'UDP'],
                ['tcp', 'TCP'],
                ['tls', 'TLS'],
              ]}
              error={errors['settings.transport']}
              onInput={(v) => set('settings.transport', v)}
            />
            <Inputs inputs={TRUNK_SETTINGS.slice(2)} prefix="settings" form={form} errors={errors} set={set} />
          </div>
        </fieldset>
      )}
      <FormAlert text={formError} />
      <div class="row">
        <button class="primary" type="submit" disabled={busy}>
          {busy ? (type === 'sip_trunk' ? 'Saving…' : 'Checking with the carrier…') : 'Save'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ProviderCard({ provider: p, onChange }: { provider: Provider; onChange: () => void }) {
  const [panel, setPanel] = useState<'rename' | 'credentials' | null>(null);
  const [sync, setSync] = useState<SyncResult | null>(null);
  const [syncing, setSyncing] = useState(false);
  const [problem, setProblem] = useState<ApiError | string | null>(null);

  const syncNow = async () => {
    setProblem(null);
    setSyncing(true);
    try {
      setSync(await ok(api.POST('/v1/telephony/providers/{id}/sync', { params: { path: { id: p.id } } })));
      onChange();
    } catch (e) {
      setSync(null);
      setProblem(e instanceof ApiError ? e : String(e));
    } finally {
      setSyncing(false);
    }
  };
  const remove = async () => {
    setProblem(null);
    const what = p.type === 'sip_trunk' ? 'The trunk is unregistered and its numbers are removed.' : 'Its imported numbers are removed from the workspace.';
    if (
      !(await confirm(
        `Delete ${p.name}?`,
        `${what} Numbers still in use (a caller ID, SMS or fax number, the workspace default) keep it from being deleted.`,
        'Delete',
      ))
    )
      return;
    try {
      await ok(api.DELETE('/v1/telephony/providers/{id}', { params: { path: { id: p.id } } }));
      toast(`${p.name} deleted`, 'ok');
      onChange();
    } catch (e) {
      setProblem(e instanceof ApiError ? e : String(e));
    }
  };
  const setEnabled = async (enabled: boolean) => {
    try {
      await ok(api.PATCH('/v1/telephony/providers/{id}', { params: { path: { id: p.id } }, body: { enabled } }));
      toast(enabled ? `${p.name} enabled` : `${p.name} disabled`, 'ok');
      onChange();
    } catch (e) {
      toastError(e);
    }
  };

  return (
    <section class="card provider" aria-label={p.name} data-provider={p.name}>
      <div class="row spread">
        <h2>
          {p.name} <span class="badge">{providerTypeLabel(p.type)}</span>
          {!p.enabled && <span class="badge bad">disabled</span>}
        </h2>
        <div class="row">
          <button type="button" onClick={() => setPanel(panel === 'rename' ? null : 'rename')} aria-expanded={panel === 'rename'}>
            Rename
          </button>
          <button type="button" onClick={() => setPanel(panel === 'credentials' ? null : 'credentials')} aria-expanded={panel === 'credentials'}>
            Rotate credentials
          </button>
          {p.type !== 'sip_trunk' && (
            <button type="button" onClick={syncNow} disabled={syncing || !p.enabled}>
              {syncing ? 'Syncing…' : 'Sync now'}
            </button>
          )}
          <button type="button" onClick={() => setEnabled(!p.enabled)}>
            {p.enabled ? 'Disable' : 'Enable'}
          </button>
          <button type="button" class="danger" onClick={remove}>
            Delete
          </button>
        </div>
      </div>
      <dl class="details">
        <div>
          <dt>Credentials</dt>
          <dd>
            <code>{p.credentials_hint}</code>
          </dd>
        </div>
        {p.type === 'sip_trunk' ? (
          <div>
            <dt>Carrier</dt>
            <dd>
              <code>{trunkAddress(p.settings)}</code>
            </dd>
          </div>
        ) : (
          <div>
            <dt>Last import</dt>
            <dd>
              {fmtDate(p.last_synced_at)}
              {p.last_sync_error && <span class="error-text"> {p.last_sync_error}</span>}
            </dd>
          </div>
        )}
      </dl>
      {p.registration && <RegistrationView reg={p.registration} />}
      {panel === 'rename' && <RenameForm provider={p} onDone={() => (setPanel(null), onChange())} />}
      {panel === 'credentials' && <CredentialsForm provider={p} onDone={() => (setPanel(null), onChange())} />}
      {sync && <SyncResultView result={sync} title="Import" />}
      {problem instanceof ApiError && problem.code === 'in_use' ? (
        <InUse error={problem} />
      ) : (
        <FormAlert text={problem ? String(problem instanceof ApiError ? problem.message : problem) : null} />
      )}
    </section>
  );
}

/** udp:carrier.example:5060, from the trunk's stored settings. */
function trunkAddress(settings: Record<string, unknown>): string {
  const str = (v: unknown, d: string) => (typeof v === 'string' || typeof v === 'number' ? String(v) : d);
  return `${str(settings.transport, 'udp')}:${str(settings.host, '?')}:${str(settings.port, '5060')}`;
}

function RenameForm({ provider: p, onDone }: { provider: Provider; onDone: () => void }) {
  const [name, setName] = useState(p.name);
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await ok(api.PATCH('/v1/telephony/providers/{id}', { params: { path: { id: p.id } }, body: { name } }));
      toast('Renamed', 'ok');
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? (err.fieldErrors().name ?? err.message) : String(err));
    }
  };
  return (
    <form class="row" onSubmit={submit} noValidate aria-label={`Rename ${p.name}`}>
      <Field label="New name" name="rename" value={name} error={error} onInput={(v) => setName(String(v))} />
      <button class="primary" type="submit">
        Save name
      </button>
    </form>
  );
}

function CredentialsForm({ provider: p, onDone }: { provider: Provider; onDone: () => void }) {
  const [form, setForm] = useState<Form>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const inputs = credentialNames(p.type);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    setBusy(true);
    try {
      await ok(api.PATCH('/v1/telephony/providers/{id}', { params: { path: { id: p.id } }, body: { credentials: credentialsOf(p.type, form) } }));
      toast('New credentials saved', 'ok');
      onDone();
    } catch (err) {
      const s = splitError(err, inputs);
      setErrors(s.fields);
      setFormError(s.form);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} noValidate aria-label={`New credentials for ${p.name}`}>
      <p class="muted">
        {p.type === 'sip_trunk'
          ? 'The trunk registers again with the new credentials.'
          : 'The carrier checks the new credentials before they replace the old ones.'}
      </p>
      <CredentialFields type={p.type} form={form} errors={errors} set={(k, v) => setForm({ ...form, [k]: v })} />
      <FormAlert text={formError} />
      <button class="primary" type="submit" disabled={busy}>
        Save credentials
      </button>
    </form>
  );
}
