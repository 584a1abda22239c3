// The app's side of the school's backend (samples/school-backend): sign-in with a session
// cookie, then Callern access tokens for the signed-in person. The API key never reaches the browser.
import { CallernRealtime, createCallernApi, type CallernApi } from "@callern/sdk";
import { busy, h, show } from "./dom.js";

export interface SessionUser {
  id: string;
  name: string;
  role: "student" | "teacher";
}

/** Everything an app needs once someone signed in. */
export interface SignedIn {
  user: SessionUser;
  /** The Callern REST client, acting as the signed-in person. */
  api: CallernApi;
  /** The Callern realtime connection (started). */
  realtime: CallernRealtime;
  /** Signs out of the school and stops the realtime connection. */
  signOut(): Promise<void>;
}

/** `fetch` against this app's part of the school backend (`/student/api/…` for the student app). */
async function school<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`api/${path}`, {
    ...init,
    credentials: "same-origin",
    headers: { "content-type": "application/json", ...init.headers },
  });
  if (!response.ok) throw (await response.json().catch(() => null)) ?? new Error(`The school answered ${response.status}.`);
  return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
}

/** Reads from the school backend (the student's receipts). */
export function schoolGet<T>(path: string): Promise<T> {
  return school<T>(path);
}

/** Posts to the school backend; exported for the student app's checkout. */
export function schoolPost<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  return school<T>(path, { method: "POST", body: JSON.stringify(body), headers });
}

/**
 * Returns a token getter that asks the school backend for a Callern access token and reuses it
 * until a minute before it expires. The SDK calls it before every request and (re)connect.
 */
function tokenSource(): () => Promise<string> {
  let current: { accessToken: string; expiresAt: number } | null = null;
  return async () => {
    if (!current || current.expiresAt - Date.now() < 60_000) {
      const token = await school<{ accessToken: string; expiresAt: string }>("token", { method: "POST" });
      current = { accessToken: token.accessToken, expiresAt: Date.parse(token.expiresAt) };
    }
    return current.accessToken;
  };
}

async function connect(user: SessionUser): Promise<SignedIn> {
  const { callernUrl } = await school<{ callernUrl: string }>("config");
  const accessToken = tokenSource();
  const api = createCallernApi({ baseUrl: callernUrl, accessToken });
  const realtime = new CallernRealtime({ baseUrl: callernUrl, accessToken });
  await realtime.start();
  return {
    user,
    api,
    realtime,
    async signOut() {
      await realtime.stop();
      await school("session", { method: "DELETE" });
    },
  };
}

/**
 * Resumes the session, or shows the sign-in form (pick a person of the school: the demo has no
 * passwords) in `root` and resolves once someone signed in and the realtime connection is up.
 */
export async function signIn(root: HTMLElement, title: string): Promise<SignedIn> {
  const existing = await school<SessionUser>("session").catch(() => null);
  if (existing) return connect(existing);
  const users = await school<SessionUser[]>("users");
  return new Promise((resolve) => {
    const select = h("select", { id: "sign-in-user", name: "user", required: true }, ...users.map((u) => h("option", { value: u.id }, u.name)));
    const status = h("p", { role: "alert", class: "status" });
    const button = h("button", { type: "submit", class: "primary" }, "Sign in");
    const form = h(
      "form",
      { class: "card sign-in", "aria-labelledby": "sign-in-title" },
      h("h1", { id: "sign-in-title" }, title),
      h("p", { class: "muted" }, "Demo sign-in: choose who you are. A real school uses its own login here."),
      h("label", { for: "sign-in-user" }, "Person"),
      select,
      button,
      status,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void busy(button, status, async () => {
        const user = await schoolPost<SessionUser>("session", { userId: select.value });
        resolve(await connect(user));
      });
    });
    show(root, form);
    select.focus();
  });
}

/** The header: app name, who is signed in, the connection state (with reconnecting shown), sign out. */
export function header(session: SignedIn, appName: string): HTMLElement {
  const connection = h("span", { class: "badge", id: "connection", role: "status" });
  const render = (state: string): void => {
    connection.textContent = { connected: "Online", connecting: "Connecting…", reconnecting: "Connection lost, reconnecting…", disconnected: "Offline" }[state] ?? state;
    connection.dataset.state = state;
  };
  render(session.realtime.connectionState);
  session.realtime.on("connectionStateChanged", (e) => render(e.state));
  const signOut = h("button", { type: "button", class: "link" }, "Sign out");
  signOut.addEventListener("click", () => void session.signOut().finally(() => location.reload()));
  return h(
    "header",
    { class: "top" },
    h("strong", { class: "brand" }, appName),
    connection,
    h("span", { class: "who" }, session.user.name),
    signOut,
  );
}
