import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { signIn } from '../session';
import { Field } from '../ui';

export function SignInPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [otp, setOtp] = useState('');
  const [needOtp, setNeedOtp] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password, needOtp ? otp : undefined);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'otp_required') {
        setNeedOtp(true);
        setError('Enter the six-digit code from your authenticator app.');
      } else setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth card" id="main">
      <h1>Sign in to Switchboard</h1>
      <form onSubmit={submit} class="field" noValidate>
        <Field label="Username" name="username" value={username} onInput={(v) => setUsername(String(v))} autoComplete="username" required />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={(v) => setPassword(String(v))}
          autoComplete="current-password"
          required
        />
        {needOtp && <Field label="One-time code" name="otp" value={otp} onInput={(v) => setOtp(String(v))} autoComplete="one-time-code" required />}
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
