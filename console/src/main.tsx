// The console's shell: navigation, the user and token prompt, the connection banner, the views.

import { render } from "preact";
import { useState } from "preact/hooks";
import { connectionLost, session, tokenWanted } from "./api";
import { href, route } from "./router";
import "./style.css";
import { CompareView } from "./views/compare";
import { HostView } from "./views/host";
import { JobView } from "./views/job";
import { JobsView } from "./views/jobs";
import { StartView } from "./views/start";

function App() {
  const r = route.value;
  const nav = (view: string, label: string) => (
    <a href={href(view)} class={r.view === view || (view === "jobs" && r.view === "job") ? "active" : ""}>{label}</a>
  );
  return (
    <>
      <header>
        <a class="brand" href={href("jobs")}>k12ai</a>
        <nav>
          {nav("jobs", "Jobs")}
          {nav("compare", "Compare")}
          {nav("host", "Host")}
          {nav("start", "Start a job")}
        </nav>
        <span class="who">
          user <input name="session-user" value={session.value.user} size={10}
            onChange={(e) => (session.value = { ...session.value, user: e.currentTarget.value.trim() })} />
          {session.value.token && <button class="link" onClick={() => (tokenWanted.value = true)}>change token</button>}
        </span>
      </header>
      {connectionLost.value && (
        <div class="banner" role="alert" id="connection-lost">Lost the connection to the server — reconnecting…</div>
      )}
      {tokenWanted.value && <TokenPrompt />}
      <main>
        {/* Keyed by the session: a new token reloads every view with what it may see. */}
        {!tokenWanted.value && <View key={session.value.token} />}
      </main>
    </>
  );
}

function View() {
  const r = route.value;
  switch (r.view) {
    case "job":
      return <JobView jobId={r.id} />;
    case "compare":
      return <CompareView jobIds={(r.query.get("jobs") ?? "").split(",").filter(Boolean)} />;
    case "host":
      return <HostView />;
    case "start":
      return <StartView />;
    default:
      return <JobsView />;
  }
}

function TokenPrompt() {
  const [user, setUser] = useState(session.value.user);
  const [token, setToken] = useState("");
  const submit = (e: Event) => {
    e.preventDefault();
    session.value = { user: user.trim(), token: token.trim() };
    tokenWanted.value = false;
  };
  return (
    <form class="token-prompt" onSubmit={submit}>
      <h2>This server needs a token</h2>
      <p>
        {session.value.token ? "The server refused the token given. " : ""}
        Enter your user name and the API token you were given (<code>k12ai-server token create</code>). It is kept
        in this tab's memory only and sent as <code>Authorization: Bearer</code>; closing or reloading the tab
        forgets it.
      </p>
      <label>User <input name="user" value={user} onInput={(e) => setUser(e.currentTarget.value)} autocomplete="username" /></label>
      <label>Token <input name="token" type="password" value={token} onInput={(e) => setToken(e.currentTarget.value)}
        autocomplete="current-password" required /></label>
      <button class="primary" type="submit">Continue</button>
    </form>
  );
}

// A failure nothing else caught is shown on the page rather than left in the browser's console.
function showUnexpected(message: string) {
  const box = document.getElementById("unexpected") ?? document.body.appendChild(document.createElement("div"));
  box.id = "unexpected";
  box.className = "banner";
  box.setAttribute("role", "alert");
  box.textContent = `Something went wrong in the page: ${message}. Reload to start again.`;
}
window.addEventListener("error", (e) => {
  e.preventDefault();
  showUnexpected(e.message);
});
window.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  showUnexpected(String(e.reason?.message ?? e.reason));
});

render(<App />, document.getElementById("app")!);
