import { useEffect } from 'preact/hooks';
import { match, navigate, path } from './router';
import { canEdit, canView, me, signOut } from './session';
import { useSignal } from './state';
import { ConfirmDialog, Toasts, toast, toastError } from './ui';
import { SignInPage } from './pages/sign-in';
import { InvitationPage } from './pages/invitation';
import { UsersPage } from './pages/users';
import { UserPage } from './pages/user';
import { DevicesPage } from './pages/devices';
import { SettingsPage } from './pages/settings';
import { MyPhonePage } from './pages/my-phone';
import { ResourcePage, RESOURCES } from './pages/resources';
import { OncallPage } from './pages/oncall';

const NAV: Array<[string, string, 'view' | 'edit' | 'any']> = [
  ['/users', 'Users', 'view'],
  ['/devices', 'Devices', 'view'],
  ['/numbers', 'Numbers', 'view'],
  ['/locations', 'Locations (E911)', 'view'],
  ['/mailboxes', 'Mailboxes', 'view'],
  ['/fax-services', 'Fax services', 'view'],
  ['/oncall', 'OnCall', 'view'],
  ['/settings', 'Settings', 'edit'],
  ['/me', 'My phone', 'any'],
];

export function App() {
  const current = useSignal(path);
  const who = useSignal(me);
  const pathname = current.split('?')[0]!;

  const invitation = match('/invitations/:token', pathname);
  if (invitation) return <Shell bare>{<InvitationPage token={invitation.token!} />}</Shell>;
  if (who === undefined)
    return (
      <Shell bare>
        <p class="auth">Loading…</p>
      </Shell>
    );
  if (who === null) return <Shell bare>{<SignInPage />}</Shell>;

  return (
    <Shell>
      <div class="layout">
        <nav class="nav" aria-label="Main">
          <span class="brand">Switchboard</span>
          {NAV.filter(([, , need]) => need === 'any' || (need === 'view' ? canView(who) : canEdit(who))).map(([href, label]) => (
            <a key={href} href={href} aria-current={pathname === href || pathname.startsWith(href + '/') ? 'page' : undefined}>
              {label}
            </a>
          ))}
          <div class="who">
            <div>{who.name ?? who.email}</div>
            <div>
              {who.account.name} · {who.role}
            </div>
            <button type="button" class="link" onClick={() => signOut().catch(toastError)}>
              Sign out
            </button>
          </div>
        </nav>
        <main class="main" id="main">
          <Route pathname={pathname} />
        </main>
      </div>
    </Shell>
  );
}

function Shell({ children, bare }: { children: preact.ComponentChildren; bare?: boolean }) {
  return (
    <>
      {!bare && (
        <a class="skip" href="#main">
          Skip to content
        </a>
      )}
      {children}
      <Toasts />
      <ConfirmDialog />
    </>
  );
}

function Redirect({ to, message }: { to: string; message?: string }) {
  useEffect(() => {
    if (message) toast(message, 'error');
    navigate(to, true);
  }, [to]);
  return null;
}

function Route({ pathname }: { pathname: string }) {
  const who = me.get()!;
  if (pathname === '/') return <Redirect to={canView(who) ? '/users' : '/me'} />;
  if (pathname === '/me') return <MyPhonePage />;
  if (pathname === '/settings' || pathname.startsWith('/settings/')) {
    // Seed 002: Settings is for admins; anyone else who opens the URL gets a permission error.
    if (!canEdit(who))
      return <Redirect to={canView(who) ? '/users' : '/me'} message="You do not have permission to open Settings: it is for workspace admins." />;
    return <SettingsPage section={pathname.split('/')[2] ?? 'general'} />;
  }
  if (!canView(who)) return <Redirect to="/me" message="Your role can only manage your own phone." />;
  if (pathname === '/users') return <UsersPage />;
  const user = match('/users/:id', pathname);
  if (user) return <UserPage id={Number(user.id)} />;
  if (pathname === '/devices') return <DevicesPage />;
  if (pathname === '/oncall') return <OncallPage />;
  const resource = RESOURCES.find((r) => r.path === pathname);
  if (resource) return <ResourcePage key={resource.path} spec={resource} />;
  return (
    <div>
      <h1>Not found</h1>
      <p>
        There is no page at {pathname}. <a href="/">Go to the start page</a>.
      </p>
    </div>
  );
}
