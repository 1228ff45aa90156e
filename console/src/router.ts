// Views are `#/` routes, so the server serves one page and a reload keeps the view.

import { signal } from "@preact/signals";

export interface Route {
  view: "jobs" | "job" | "compare" | "host" | "start";
  id: string;
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const [view, id = ""] = path.split("/");
  const known = ["jobs", "job", "compare", "host", "start"];
  return {
    view: (known.includes(view) ? view : "jobs") as Route["view"],
    id: decodeURIComponent(id),
    query: new URLSearchParams(search),
  };
}

export const route = signal<Route>(parse(location.hash));
window.addEventListener("hashchange", () => {
  route.value = parse(location.hash);
});

export const href = (view: string, id = "", query?: Record<string, string>) =>
  `#/${view}${id ? `/${encodeURIComponent(id)}` : ""}${query ? `?${new URLSearchParams(query)}` : ""}`;
