import { useState } from 'preact/hooks';
import { api, ApiError, ok } from '../api';
import { navigate } from '../router';
import { signIn } from '../session';
import { Field, OneTimeSecret } from '../ui';

/** The page the invitation email links to: choose a name and password, then the member is signed in. */
export function InvitationPage({ token }: { token: string }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<string | null>(null);
  const [joined, setJoined] = useState<{ username: string; extension: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setMessage(null);
    try {
      const r = await ok(api.POST('/v1/invitations/{token}/accept', { params: { path: { token } }, body: { name, password } }));
      // The accept answer carries a bearer token; the console signs in with the new password instead, so the session is a cookie like any other.
      await signIn(r.username, password);
      setJoined({ username: r.username, extension: r.extension });
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(err.fieldErrors());
        if (!err.field && !err.issues.length) setMessage(err.message);
      } else setMessage(String(err));
    } finally {
      setBusy(false);
    }
  };

  if (joined)
    return (
      <main class="auth card" id="main">
        <h1>Welcome aboard</h1>
        <p>You are signed in. Sign in next time with this username:</p>
        <OneTimeSecret label="Username" value={joined.username} />
        <p>Your extension is {joined.extension}.</p>
        <button class="primary" type="button" onClick={() => navigate('/', true)}>
          Open the console
        </button>
      </main>
    );

  return (
    <main class="auth card" id="main">
      <h1>Join the workspace</h1>
      <p class="muted">Choose your name and a password (at least 10 characters).</p>
      <form onSubmit={submit} class="field" noValidate>
        <Field label="Your name" name="name" value={name} onInput={(v) => setName(String(v))} error={errors.name} autoComplete="name" required />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={(v) => setPassword(String(v))}
          error={errors.password}
          autoComplete="new-password"
          required
        />
        {message && (
          <p class="error-text" role="alert">
            {message}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          Accept the invitation
        </button>
      </form>
    </main>
  );
}
