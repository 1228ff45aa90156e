// One job: its state, curves, parameters, log lines, result and predictions, live until its end.

import { useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError, describe, getJob, LIVE_STATES, num, session, stopJob, SUCCESS,
  type Event, type Job,
} from "../api";
import { clock, duration } from "../format";
import { useNow } from "../hooks";
import { watch } from "../stream";
import { State } from "./jobs";
import { JobMetrics } from "./metrics";

const LOG_TYPES = ["status", "log", "error", "info", "result", "predict"];
const MAX_LOG_LINES = 5000;
const MAX_PREDICTIONS = 200;

export function JobView(props: { jobId: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState("");
  const [lines, setLines] = useState<Event[]>([]);
  const [result, setResult] = useState<Record<string, unknown> | null>(null);
  const [predictions, setPredictions] = useState<Event[]>([]);
  const [stopping, setStopping] = useState("");
  const now = useNow(1000);

  useEffect(() => {
    let stopWatch = () => {};
    let cancelled = false;
    setJob(null);
    setError("");
    setLines([]);
    setPredictions([]);
    setResult(null);
    getJob(props.jobId)
      .then((found) => {
        if (cancelled) return;
        setJob(found);
        stopWatch = watch({ job_id: props.jobId, types: LOG_TYPES }, 0, {
          events: (events) => {
            setLines((l) => [...l, ...events.filter((e) => e.type !== "predict")].slice(-MAX_LOG_LINES));
            const predicted = events.filter((e) => e.type === "predict");
            if (predicted.length) setPredictions((p) => [...p, ...predicted].slice(0, MAX_PREDICTIONS));
            for (const e of events) {
              if (e.type === "result") setResult(e.payload as Record<string, unknown>);
              if (e.type === "status") setJob((j) => j && withStatus(j, e));
            }
          },
          end: (state) => setJob((j) => j && { ...j, state }),
        });
      })
      .catch((e) => {
        if (cancelled) return;
        setError(
          e instanceof ApiError && e.status === 404
            ? `Job ${props.jobId} was not found: there is no such job, or it is another user's.`
            : `Could not load job ${props.jobId}: ${describe(e)}`,
        );
      });
    return () => {
      cancelled = true;
      stopWatch();
    };
  }, [props.jobId, session.value]);

  if (error) return <section><h1>Job</h1><p class="error" role="alert">{error}</p></section>;
  if (!job) return <section><h1>Job</h1><p class="muted">Loading job {props.jobId}…</p></section>;

  const live = LIVE_STATES.includes(job.state);
  const stop = async () => {
    setStopping("stopping…");
    try {
      const reply = await stopJob(job);
      setStopping(reply.code === SUCCESS ? "stopping…" : `${reply.code} ${reply.descr}: ${String(reply.message)}`);
    } catch (e) {
      setStopping(describe(e));
    }
  };

  return (
    <section class="job">
      <h1>
        {job.service_name} {job.kind} <span class="muted">{job.user}/{job.service_uuid}</span>{" "}
        <State job={job} />
      </h1>
      <p class="meta">
        job <code>{job.job_id}</code> · created {clock(num(job.created_at))} · started{" "}
        {clock(num(job.started_at))} · {live ? "running for" : "took"} {duration(job, now)}
        {job.exit_code !== undefined && ` · exit code ${job.exit_code}`}
        {live && <button class="stop" disabled={!!stopping} onClick={stop}>{stopping ? "Stopping…" : "Stop"}</button>}
        {stopping && stopping !== "stopping…" && <span class="error">{stopping}</span>}
      </p>
      {job.reason && <p class={job.state === "failed" ? "error" : "muted"}>Reason: {job.reason}</p>}
      <JobMetrics jobId={job.job_id} live={live} startMs={num(job.started_at) || num(job.created_at)} />
      {result && <ResultTable result={result} />}
      {predictions.length > 0 && <Predictions events={predictions} />}
      <div class="panes">
        <div>
          <h2>Log</h2>
          <LogPane lines={lines} />
        </div>
        <div>
          <h2>Parameters <span class="muted">(service_params as sent)</span></h2>
          <pre class="params">{JSON.stringify(job.service_params ?? {}, null, 2)}</pre>
        </div>
      </div>
    </section>
  );
}

function withStatus(job: Job, event: Event): Job {
  const payload = (event.payload ?? {}) as Record<string, unknown>;
  const state = typeof payload.state === "string" ? payload.state : job.state;
  return {
    ...job,
    state,
    reason: typeof payload.reason === "string" ? payload.reason : job.reason,
    started_at: state === "running" && !num(job.started_at) ? event.timestamp : job.started_at,
    ended_at: LIVE_STATES.includes(state) ? job.ended_at : event.timestamp,
  };
}

function LogPane(props: { lines: Event[] }) {
  const pane = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  useEffect(() => {
    const el = pane.current;
    if (el && following.current) el.scrollTop = el.scrollHeight;
  }, [props.lines]);
  const onScroll = () => {
    const el = pane.current;
    if (el) following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return (
    <div class="log" ref={pane} onScroll={onScroll} data-lines={props.lines.length}>
      {props.lines.length === 0 && <div class="muted">No log lines yet.</div>}
      {props.lines.map((e) => (
        <div class={`line ${e.type}`} key={e.seq}>
          <span class="time">{e.datetime.slice(11)}</span> <span class="type">{e.type}</span> {logText(e)}
        </div>
      ))}
    </div>
  );
}

function logText(event: Event): string {
  const payload = event.payload as Record<string, unknown> | string | null;
  if (typeof payload === "string") return payload;
  if (!payload) return "";
  if (event.type === "status") {
    const extra = Object.entries(payload).filter(([k]) => k !== "state" && k !== "job_id");
    return `${String(payload.state)}${extra.length ? ` ${extra.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ")}` : ""}`;
  }
  if (typeof payload.message === "string") return payload.message;
  if (typeof payload.line === "string") return payload.line;
  return JSON.stringify(payload);
}

function ResultTable(props: { result: Record<string, unknown> }) {
  const rows = flatten(props.result);
  return (
    <div>
      <h2>Result</h2>
      <table class="result">
        <tbody>{rows.map(([k, v]) => <tr><th>{k}</th><td>{v}</td></tr>)}</tbody>
      </table>
    </div>
  );
}

function flatten(value: Record<string, unknown>, prefix = ""): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, v] of Object.entries(value)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...flatten(v as Record<string, unknown>, name));
    else out.push([name, typeof v === "number" ? String(Math.round(v * 1e6) / 1e6) : JSON.stringify(v)]);
  }
  return out.slice(0, 200);
}

function Predictions(props: { events: Event[] }) {
  return (
    <div>
      <h2>Predictions <span class="muted">(first {props.events.length})</span></h2>
      <table class="predictions">
        <thead><tr><th>#</th><th>Label</th><th>Prediction</th></tr></thead>
        <tbody>
          {props.events.map((e) => {
            const payload = (e.payload ?? {}) as Record<string, unknown>;
            const parsed = parsePrediction(payload.prediction);
            return (
              <tr key={e.seq}>
                <td>{String(payload.index ?? "")}</td>
                <td>{parsed.label}</td>
                <td><code>{parsed.text}</code></td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function parsePrediction(value: unknown): { label: string; text: string } {
  const text = typeof value === "string" ? value.trim() : JSON.stringify(value);
  try {
    const parsed = typeof value === "string" ? JSON.parse(value) : value;
    if (parsed && typeof parsed === "object" && "label" in parsed)
      return { label: String((parsed as { label: unknown }).label), text: text.slice(0, 160) };
  } catch {
    // Not JSON: shown as it is.
  }
  return { label: "", text: text.slice(0, 160) };
}
