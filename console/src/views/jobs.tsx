// Every job the caller may see, newest first, live: states and latest metrics follow the
// event stream, a new job appears when its first status event arrives.

import { useEffect, useMemo, useState } from "preact/hooks";
import {
  describe, LIVE_STATES, listJobs, metricSeries, num, session, stopJob, SUCCESS,
  type Event, type Job,
} from "../api";
import { clock, duration, metric } from "../format";
import { href } from "../router";
import { POSITION_KEYS } from "../series";
import { watch } from "../stream";
import { useNow } from "../hooks";

const STATES = ["queued", "starting", "running", "finished", "failed", "stopped"];
const FRAMEWORKS = ["k12ml", "k12nlp", "k12cv"];

interface Filters {
  user: string;
  project: string;
  framework: string;
  state: string;
}

interface Live {
  stopping?: boolean;
  stopError?: string;
}

type Latest = Record<string, Record<string, number>>; // job -> "phase name" -> value

export function JobsView() {
  const [filters, setFilters] = useState<Filters>({ user: "", project: "", framework: "", state: "" });
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState("");
  const [latest, setLatest] = useState<Latest>({});
  const [live, setLive] = useState<Record<string, Live>>({});
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [reloads, setReloads] = useState(0);
  const now = useNow(1000);

  useEffect(() => {
    let cancelled = false;
    setError("");
    listJobs({ user: filters.user, service_uuid: filters.project, states: filters.state ? [filters.state] : [] })
      .then((found) => {
        if (cancelled) return;
        setJobs(found);
        loadLatest(found, (jobId, values) => !cancelled && setLatest((l) => ({ ...l, [jobId]: values })));
      })
      .catch((e) => !cancelled && setError(describe(e)));
    return () => {
      cancelled = true;
    };
  }, [filters.user, filters.project, filters.state, reloads, session.value]);

  // Follow every status and metrics event after the newest one the list knows of.
  const afterSeq = useMemo(() => Math.max(0, ...(jobs ?? []).map((j) => num(j.last_seq))), [jobs]);
  useEffect(() => {
    if (jobs === null) return;
    const known = new Set(jobs.map((j) => j.job_id));
    let reloadTimer = 0;
    const stop = watch({ service_uuid: filters.project, types: ["status", "metrics"] }, afterSeq, {
      events: (events) => {
        const unknown = events.some((e) => e.type === "status" && !known.has(e.job_id));
        if (unknown && !reloadTimer) reloadTimer = window.setTimeout(() => setReloads((n) => n + 1), 200);
        applyEvents(events, setJobs, setLatest, setLive);
      },
    });
    return () => {
      stop();
      clearTimeout(reloadTimer);
    };
  }, [jobs === null, afterSeq, filters.project, session.value]);

  const shown = (jobs ?? []).filter((j) => !filters.framework || j.service_name === filters.framework);
  // The queue is first come, first served: a queued job's place is its rank among the queued
  // jobs this caller can see (all of them for an admin).
  const places = new Map(
    (jobs ?? [])
      .filter((j) => j.state === "queued")
      .sort((a, b) => num(a.created_at) - num(b.created_at))
      .map((j, i) => [j.job_id, i + 1]),
  );
  const toggle = (jobId: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (!next.delete(jobId)) next.add(jobId);
      return next;
    });

  const stop = async (job: Job) => {
    setLive((l) => ({ ...l, [job.job_id]: { ...l[job.job_id], stopping: true, stopError: "" } }));
    try {
      const reply = await stopJob(job);
      if (reply.code !== SUCCESS) throw new Error(`${reply.code} ${reply.descr}: ${String(reply.message)}`);
    } catch (e) {
      setLive((l) => ({ ...l, [job.job_id]: { ...l[job.job_id], stopping: false, stopError: describe(e) } }));
    }
  };

  const set = (key: keyof Filters) => (e: globalThis.Event) =>
    setFilters({ ...filters, [key]: (e.currentTarget as HTMLInputElement).value.trim() });

  return (
    <section>
      <h1>Jobs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>User <input name="user" value={filters.user} onChange={set("user")} placeholder="yours" /></label>
        <label>Project <input name="project" value={filters.project} onChange={set("project")} placeholder="service_uuid" /></label>
        <label>Framework
          <select name="framework" value={filters.framework} onChange={set("framework")}>
            <option value="">all</option>
            {FRAMEWORKS.map((f) => <option value={f}>{f}</option>)}
          </select>
        </label>
        <label>State
          <select name="state" value={filters.state} onChange={set("state")}>
            <option value="">all</option>
            {STATES.map((s) => <option value={s}>{s}</option>)}
          </select>
        </label>
        <a class={`button${selected.size < 2 ? " disabled" : ""}`} id="compare-selected"
          href={selected.size >= 2 ? href("compare", "", { jobs: [...selected].join(",") }) : undefined}>
          Compare {selected.size || ""} selected
        </a>
        {filters.project && (
          <a class="button" href={href("compare", "", { jobs: shown.map((j) => j.job_id).join(",") })}>
            Compare all runs of {filters.project}
          </a>
        )}
      </form>
      {error && <p class="error" role="alert">Could not list jobs: {error}</p>}
      {jobs === null && !error && <p class="muted">Loading jobs…</p>}
      {jobs !== null && shown.length === 0 && (
        <p class="muted">No jobs yet. <a href={href("start")}>Start one</a>.</p>
      )}
      {shown.length > 0 && (
        <div class="table-scroll">
        <table class="jobs">
          <thead>
            <tr>
              <th></th><th>Job</th><th>User</th><th>Project</th><th>Framework</th><th>Kind</th>
              <th>State</th><th>Started</th><th>Duration</th><th>Latest metrics</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => (
              <JobRow job={job} latest={latest[job.job_id]} live={live[job.job_id] ?? {}} now={now} place={places.get(job.job_id)}
                selected={selected.has(job.job_id)} onSelect={() => toggle(job.job_id)} onStop={() => stop(job)} />
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

function JobRow(props: {
  job: Job; latest?: Record<string, number>; live: Live; now: number; place?: number;
  selected: boolean; onSelect: () => void; onStop: () => void;
}) {
  const { job, live } = props;
  const isLive = LIVE_STATES.includes(job.state);
  return (
    <tr data-job={job.job_id} data-state={job.state}>
      <td><input type="checkbox" aria-label="select for compare" checked={props.selected} onChange={props.onSelect} /></td>
      <td><a href={href("job", job.job_id)}><code>{job.job_id.slice(0, 12)}</code></a></td>
      <td>{job.user}</td>
      <td>{job.service_uuid}</td>
      <td>{job.service_name}</td>
      <td>{job.kind}</td>
      {/* The stop button beside the state it changes, in view however narrow the window. */}
      <td class="state">
        <State job={job} place={props.place} />
        {isLive && (
          <button class="stop" disabled={live.stopping} onClick={props.onStop}>
            {live.stopping ? "Stopping…" : "Stop"}
          </button>
        )}
        {live.stopError && <span class="error">{live.stopError}</span>}
      </td>
      <td class="when">{clock(num(job.started_at) || num(job.created_at))}</td>
      <td class="when">{duration(job, props.now)}</td>
      <td class="metrics">{keyMetrics(props.latest)}</td>
    </tr>
  );
}

export function State(props: { job: Job; place?: number }) {
  const { job } = props;
  const place = job.state === "queued" && props.place ? ` #${props.place} in queue` : "";
  return (
    <span class={`badge ${job.state}`} title={job.reason || undefined}>
      {job.state}{place}
      {job.state === "failed" && job.reason && <span class="reason">: {job.reason}</span>}
    </span>
  );
}

const PHASE_ORDER = ["validation", "test", "", "train"];
const NAME_ORDER = ["accuracy", "loss"];

/** Up to three metrics, validation values first, accuracy and loss before the others. */
export function keyMetrics(values?: Record<string, number>): string {
  if (!values) return "";
  const entries = Object.entries(values).map(([key, value]) => {
    const [phase, name] = key.includes(" ") ? key.split(" ", 2) : ["", key];
    return { phase, name, value };
  });
  const rank = (name: string) => (NAME_ORDER.includes(name) ? NAME_ORDER.indexOf(name) : 9);
  const chosen = new Map<string, { phase: string; value: number }>();
  for (const phase of PHASE_ORDER)
    for (const e of entries) if (e.phase === phase && !chosen.has(e.name)) chosen.set(e.name, e);
  return [...chosen.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .slice(0, 3)
    .map(([name, e]) => `${e.phase && e.phase !== "train" ? `${e.phase} ` : ""}${name} ${metric(e.value)}`)
    .join(" · ");
}

function loadLatest(jobs: Job[], done: (jobId: string, values: Record<string, number>) => void): void {
  // A few at a time: the browser has six connections to the server, two of them watches.
  const queue = jobs.filter((j) => num(j.last_seq) > 0);
  const next = async (): Promise<void> => {
    const job = queue.shift();
    if (!job) return;
    try {
      const reply = await metricSeries(job.job_id, { latestOnly: true });
      const values: Record<string, number> = {};
      for (const s of reply.series) values[s.phase ? `${s.phase} ${s.name}` : s.name] = s.latest;
      done(job.job_id, values);
    } catch {
      // The row stays without metrics; the list's own error says if the server is gone.
    }
    return next();
  };
  for (let i = 0; i < 3; i++) void next();
}

function applyEvents(
  events: Event[],
  setJobs: (f: (jobs: Job[] | null) => Job[] | null) => void,
  setLatest: (f: (l: Latest) => Latest) => void,
  setLive: (f: (l: Record<string, Live>) => Record<string, Live>) => void,
): void {
  const states = new Map<string, Record<string, unknown>>();
  const metrics = new Map<string, Record<string, number>>();
  for (const event of events) {
    const payload = (event.payload ?? {}) as Record<string, unknown>;
    if (event.type === "status") states.set(event.job_id, { ...payload, timestamp: Number(event.timestamp) });
    if (event.type === "metrics") {
      const phase = typeof payload.phase === "string" ? payload.phase : "";
      const values = metrics.get(event.job_id) ?? {};
      for (const [name, value] of Object.entries(payload))
        if (typeof value === "number" && !POSITION_KEYS.has(name))
          values[phase ? `${phase} ${name}` : name] = value;
      metrics.set(event.job_id, values);
    }
  }
  if (states.size)
    setJobs((jobs) =>
      (jobs ?? []).map((job) => {
        const status = states.get(job.job_id);
        if (!status || typeof status.state !== "string") return job;
        const at = String(status.timestamp);
        return {
          ...job,
          state: status.state,
          reason: typeof status.reason === "string" ? status.reason : job.reason,
          started_at: status.state === "running" && num(job.started_at) === 0 ? at : job.started_at,
          ended_at: LIVE_STATES.includes(status.state) ? job.ended_at : at,
        };
      }),
    );
  if (states.size)
    setLive((live) => {
      const next = { ...live };
      for (const [jobId, status] of states)
        next[jobId] = {
          ...next[jobId],
          stopping: next[jobId]?.stopping && LIVE_STATES.includes(String(status.state)),
        };
      return next;
    });
  if (metrics.size)
    setLatest((latest) => {
      const next = { ...latest };
      for (const [jobId, values] of metrics) next[jobId] = { ...next[jobId], ...values };
      return next;
    });
}
