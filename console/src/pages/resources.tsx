import { useState } from 'preact/hooks';
import { api, ApiError, ok, type Schemas } from '../api';
import type { paths } from '../api/schema';
import { canEdit, me } from '../session';
import { Card, confirm, Field, LoadMore, toast, toastError, useLoad, usePagedList } from '../ui';

type Provider = Schemas['TelephonyProvider'];
/** What a column's render function may look up besides its row. */
export interface CellContext {
  /** The account's telephony providers by id (admins only; empty for other roles, who see the type). */
  providers: Map<number, Provider>;
}

type Kind = 'text' | 'number' | 'checkbox' | 'email';
type ListPath = '/v1/numbers' | '/v1/locations' | '/v1/mailboxes' | '/v1/fax-services';
type ItemPath = `${ListPath}/{id}` & keyof paths;

/** A list + create + delete page for one resource; columns and fields are keys of the generated schemas, so a renamed field breaks the build. */
export interface ResourceSpec {
  path: string;
  title: string;
  intro: string;
  list: ListPath;
  item: ItemPath;
  columns: Array<[string, string, ((row: Record<string, unknown>, ctx: CellContext) => string)?]>;
  fields: Array<[string, string, Kind]>;
  toBody: (form: Record<string, string | boolean>) => Record<string, unknown>;
}

function spec<Row extends keyof Schemas, Create extends keyof Schemas>(
  s: Omit<ResourceSpec, 'columns' | 'fields'> & {
    row: Row;
    create: Create;
    columns: Array<[keyof Schemas[Row] & string, string, ((row: Schemas[Row], ctx: CellContext) => string)?]>;
    fields: Array<[keyof Schemas[Create] & string, string, Kind]>;
  },
): ResourceSpec {
  return s as unknown as ResourceSpec;
}

const text = (v: string | boolean | undefined) => (v === '' || v === undefined ? undefined : String(v));

export const RESOURCES: ResourceSpec[] = [
  spec({
    path: '/numbers',
    title: 'Phone numbers',
    intro: 'Numbers of the workspace, with what each can do and its carrier ("default" or a bring-your-own provider).',
    list: '/v1/numbers',
    item: '/v1/numbers/{id}',
    row: 'PhoneNumber',
    create: 'CreateNumber',
    columns: [
      ['e164', 'Number'],
      ['label', 'Label'],
      [
        'capabilities',
        'Capabilities',
        (r) =>
          Object.entries(r.capabilities)
            .filter(([, v]) => v)
            .map(([k]) => k)
            .join(', ') || '—',
      ],
      ['provider', 'Provider', (r, ctx) => providerLabel(r, ctx) + (r.provider_missing ? ' (no longer listed by the carrier)' : '')],
    ],
    fields: [
      ['e164', 'Number (E.164)', 'text'],
      ['label', 'Label', 'text'],
    ],
    toBody: (f) => ({
      e164: f.e164,
      label: text(f.label) ?? null,
      provider_id: f.provider_id ? Number(f.provider_id) : null,
      capabilities: { voice: Boolean(f.voice), sms: Boolean(f.sms), fax: Boolean(f.fax) },
    }),
  }),
  spec({
    path: '/locations',
    title: 'Locations (E911)',
    intro: 'Addresses sent with emergency calls; a user dials 911 from the location set on their record.',
    list: '/v1/locations',
    item: '/v1/locations/{id}',
    row: 'Location',
    create: 'CreateLocation',
    columns: [
      ['name', 'Name'],
      ['address_line1', 'Address', (r) => [r.address_line1, r.address_line2, r.city, r.region, r.postal_code, r.country].filter(Boolean).join(', ')],
      ['callback_number', 'Callback number'],
      ['id', 'Id'],
    ],
    fields: [
      ['name', 'Name', 'text'],
      ['address_line1', 'Address line 1', 'text'],
      ['address_line2', 'Address line 2', 'text'],
      ['city', 'City', 'text'],
      ['region', 'State / region', 'text'],
      ['postal_code', 'Postal code', 'text'],
      ['country', 'Country (e.g. US)', 'text'],
      ['callback_number', 'Callback number (E.164)', 'text'],
    ],
    toBody: (f) => ({ ...f, address_line2: text(f.address_line2) ?? null }),
  }),
  spec({
    path: '/mailboxes',
    title: 'Mailboxes',
    intro: 'Voicemail boxes, their owners and delegates (the voicemail PIN is not the OnCall PIN).',
    list: '/v1/mailboxes',
    item: '/v1/mailboxes/{id}',
    row: 'Mailbox',
    create: 'CreateMailbox',
    columns: [
      ['number', 'Number'],
      ['name', 'Name'],
      ['owner_user_id', 'Owner user id', (r) => (r.owner_user_id == null ? '—' : String(r.owner_user_id))],
      ['delegates', 'Delegates', (r) => r.delegates.join(', ') || '—'],
      ['id', 'Id'],
    ],
    fields: [
      ['number', 'Number', 'text'],
      ['name', 'Name', 'text'],
      ['pin', 'Voicemail PIN', 'text'],
      ['owner_user_id', 'Owner user id', 'number'],
      ['delegates', 'Delegate user ids (comma-separated)', 'text'],
    ],
    toBody: (f) => ({
      number: f.number,
      name: f.name,
      pin: text(f.pin) ?? null,
      owner_user_id: f.owner_user_id ? Number(f.owner_user_id) : null,
      delegates: String(f.delegates ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(Number),
    }),
  }),
  spec({
    path: '/fax-services',
    title: 'Fax services',
    intro: 'Fax machines: each receives on a fax-capable number and announces faxes by email.',
    list: '/v1/fax-services',
    item: '/v1/fax-services/{id}',
    row: 'FaxService',
    create: 'CreateFaxService',
    columns: [
      ['name', 'Name'],
      ['number_id', 'Number id'],
      ['notify_email', 'Notify email'],
      ['id', 'Id'],
    ],
    fields: [
      ['name', 'Name', 'text'],
      ['number_id', 'Fax-capable number id', 'number'],
      ['notify_email', 'Notify email', 'email'],
    ],
    toBody: (f) => ({ name: f.name, number_id: Number(f.number_id), notify_email: text(f.notify_email) ?? null }),
  }),
];

const TYPE_LABEL: Record<string, string> = { twilio: 'Twilio', telnyx: 'Telnyx', plivo: 'Plivo', sip_trunk: 'SIP trunk' };
export const providerTypeLabel = (type: string) => TYPE_LABEL[type] ?? type;

/** "Twilio main (Twilio)" for a provider's number, "default" for the platform's; the type alone when the names cannot be read. */
function providerLabel(r: Schemas['PhoneNumber'], ctx: CellContext): string {
  if (r.provider_id == null) return r.provider === 'default' ? 'default' : r.provider;
  const p = ctx.providers.get(r.provider_id);
  return p ? `${p.name} (${providerTypeLabel(p.type)})` : providerTypeLabel(r.provider);
}

/** Every provider of the account, for the Numbers page (one page of 200 covers any real account; the rest still shows its type). */
function useProviders(enabled: boolean): Map<number, Provider> {
  const [page] = useLoad(
    () => (enabled ? ok(api.GET('/v1/telephony/providers', { params: { query: { limit: 200 } } })) : Promise.resolve({ data: [], next_cursor: null })),
    [enabled],
  );
  return new Map((page?.data ?? []).map((p) => [p.id, p]));
}

/** Scalars as text; anything structured as JSON (columns with objects have a render function). */
function cell(v: unknown): string {
  if (v == null) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function ResourcePage({ spec: s }: { spec: ResourceSpec }) {
  const edit = canEdit(me.get());
  const list = usePagedList(
    (cursor) =>
      ok(api.GET(s.list, { params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } as never } })) as Promise<{
        data: Array<Record<string, unknown>>;
        next_cursor: string | null;
      }>,
    [s.list],
  );
  const providers = useProviders(edit && s.path === '/numbers');
  const ctx: CellContext = { providers };
  const [form, setForm] = useState<Record<string, string | boolean>>({ voice: true });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const rows = list.rows;
  const reload = list.reload;

  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await ok(api.POST(s.list, { body: s.toBody(form) as never }));
      toast('Created', 'ok');
      setForm({ voice: true });
      reload();
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) setErrors(err.fieldErrors());
      else toastError(err);
    }
  };
  const remove = async (id: number) => {
    if (!(await confirm('Delete?', `${s.title}: item ${id} is deleted.`, 'Delete'))) return;
    try {
      await ok(api.DELETE(s.item, { params: { path: { id } } }));
      toast('Deleted', 'ok');
      reload();
    } catch (e) {
      toastError(e);
    }
  };

  return (
    <div>
      <h1>{s.title}</h1>
      <p class="muted">{s.intro}</p>
      {edit && (
        <Card title="Add">
          <form onSubmit={create} noValidate>
            <div class="grid">
              {s.fields.map(([k, label, kind]) => (
                <Field key={k} label={label} name={k} type={kind} value={form[k] ?? ''} error={errors[k]} onInput={(v) => setForm({ ...form, [k]: v })} />
              ))}
              {s.path === '/numbers' && (
                <Field
                  label="Provider"
                  name="provider_id"
                  value={form.provider_id ?? ''}
                  error={errors.provider_id}
                  options={[
                    ['', 'Default telephony'],
                    ...[...providers.values()].map((p): [string, string] => [String(p.id), `${p.name} (${providerTypeLabel(p.type)})`]),
                  ]}
                  onInput={(v) => setForm({ ...form, provider_id: v })}
                />
              )}
              {s.path === '/numbers' &&
                (['voice', 'sms', 'fax'] as const).map((c) => (
                  <Field
                    key={c}
                    label={`${c} capable`}
                    name={c}
                    type="checkbox"
                    value={form[c]}
                    error={errors[`capabilities.${c}`]}
                    onInput={(v) => setForm({ ...form, [c]: v })}
                  />
                ))}
            </div>
            <button class="primary" type="submit">
              Add
            </button>
          </form>
        </Card>
      )}
      <div class="table-wrap">
        <table>
          <caption class="sr-only">{s.title}</caption>
          <thead>
            <tr>
              {s.columns.map(([k, label]) => (
                <th key={k} scope="col">
                  {label}
                </th>
              ))}
              {edit && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={String(r.id)}>
                {s.columns.map(([k, , render]) => (
                  <td key={k}>{render ? render(r, ctx) : cell(r[k])}</td>
                ))}
                {edit && (
                  <td>
                    <button type="button" class="danger" onClick={() => remove(Number(r.id))}>
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
            {list.loaded && !rows.length && (
              <tr>
                <td colSpan={s.columns.length + 1} class="muted">
                  Nothing yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <LoadMore list={list} what={s.path.slice(1).replace('-', ' ')} />
    </div>
  );
}
