import { useState } from 'preact/hooks';
import { api, ApiError, ok, type Schemas } from '../api';
import { canEdit, me } from '../session';
import { Card, Field, OneTimeSecret, toastError, useLoad } from '../ui';

type Role = NonNullable<Schemas['User']['role']>;
const PAGE = 25;

export function UsersPage() {
  const edit = canEdit(me.get());
  const [search, setSearch] = useState('');
  const [role, setRole] = useState('');
  const [sort, setSort] = useState<'id' | 'name' | 'extension'>('name');
  // Keyset paging: the cursors of the pages before this one, for Back.
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [creating, setCreating] = useState(false);

  const [page, reload, loading] = useLoad(() => {
    const q = search.trim();
    const query: Record<string, unknown> = { limit: PAGE, sort };
    if (cursor) query.cursor = cursor;
    if (role) query.role = role;
    // Digits search the extension; anything else is a name prefix.
    if (q) query[/^\d+$/.test(q) ? 'extension' : 'name'] = q;
    return ok(api.GET('/v1/users', { params: { query: query as never } }));
  }, [search, role, sort, cursor]);

  const resetPaging = () => setCursors([undefined]);

  return (
    <div>
      <div class="row spread">
        <h1>Users</h1>
        {edit && (
          <button class="primary" type="button" onClick={() => setCreating(true)}>
            New user
          </button>
        )}
      </div>
      {creating && <CreateUser onDone={() => (setCreating(false), reload())} />}
      <div class="row card" role="search">
        <Field
          label="Search (name prefix or extension)"
          name="search"
          value={search}
          onInput={(v) => {
            setSearch(String(v));
            resetPaging();
          }}
        />
        <Field
          label="Role"
          name="role-filter"
          value={role}
          options={[['', 'Any role'], ...(['owner', 'admin', 'viewer', 'user', 'fax'] as const).map((r): [string, string] => [r, r])]}
          onInput={(v) => {
            setRole(String(v));
            resetPaging();
          }}
        />
        <Field
          label="Sort by"
          name="sort"
          value={sort}
          options={[
            ['name', 'Name'],
            ['extension', 'Extension'],
            ['id', 'Created'],
          ]}
          onInput={(v) => {
            setSort(v as typeof sort);
            resetPaging();
          }}
        />
      </div>
      <div class="table-wrap">
        <table aria-busy={loading}>
          <caption class="sr-only">Users</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Extension</th>
              <th scope="col">Username</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {page?.data.map((u) => (
              <tr key={u.id}>
                <td>
                  <a href={`/users/${u.id}`}>{u.name}</a>
                </td>
                <td>{u.extension}</td>
                <td>{u.username}</td>
                <td>{u.role}</td>
                <td>
                  <span class={`badge ${u.status === 'active' ? 'ok' : u.status === 'disabled' ? 'bad' : 'warn'}`}>{u.status}</span>
                </td>
              </tr>
            ))}
            {page && !page.data.length && (
              <tr>
                <td colSpan={5} class="muted">
                  No users match.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <div class="row">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!page?.next_cursor} onClick={() => setCursors([...cursors, page!.next_cursor!])}>
          Next page
        </button>
      </div>
    </div>
  );
}

function CreateUser({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ name: '', extension: '', username: '', email: '', role: 'user' as Role, password: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [created, setCreated] = useState<Schemas['CreatedUser'] | null>(null);
  const set = (k: keyof typeof f) => (v: string | boolean) => setF({ ...f, [k]: String(v) });

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      const body = {
        name: f.name,
        extension: f.extension,
        username: f.username,
        role: f.role as 'admin' | 'viewer' | 'user',
        ...(f.email ? { email: f.email } : {}),
        ...(f.password ? { password: f.password } : {}),
      };
      setCreated(await ok(api.POST('/v1/users', { body })));
    } catch (err) {
      if (err instanceof ApiError && (err.field || err.issues.length)) setErrors(err.fieldErrors());
      else toastError(err);
    }
  };

  if (created)
    return (
      <Card title={`User ${created.name} created`} class="once">
        <p>Give these to the user now: they are not shown again (the SIP password can be revealed later by an admin, which is audited).</p>
        <OneTimeSecret label="SIP password" value={created.sip_password} />
        <OneTimeSecret label="OnCall PIN" value={created.oncall_pin} />
        <div class="row">
          <a href={`/users/${created.id}`}>Open {created.name}</a>
          <button type="button" onClick={onDone}>
            Done
          </button>
        </div>
      </Card>
    );

  return (
    <Card title="New user">
      <form onSubmit={submit} noValidate>
        <div class="grid">
          <Field label="Name" name="name" value={f.name} onInput={set('name')} error={errors.name} required />
          <Field label="Extension" name="extension" value={f.extension} onInput={set('extension')} error={errors.extension} required />
          <Field label="Username" name="username" value={f.username} onInput={set('username')} error={errors.username} required />
          <Field label="Email" name="email" type="email" value={f.email} onInput={set('email')} error={errors.email} />
          <Field
            label="Role"
            name="role"
            value={f.role}
            onInput={set('role')}
            error={errors.role}
            options={[
              ['user', 'User'],
              ['viewer', 'Viewer (view only)'],
              ['admin', 'Admin (view & edit)'],
            ]}
          />
          <Field
            label="Login password (optional)"
            name="password"
            type="password"
            value={f.password}
            onInput={set('password')}
            error={errors.password}
            hint="Leave empty for a SIP-only user"
            autoComplete="new-password"
          />
        </div>
        <div class="row">
          <button class="primary" type="submit">
            Create user
          </button>
          <button type="button" onClick={onDone}>
            Cancel
          </button>
        </div>
      </form>
    </Card>
  );
}
