// Several runs' same metric on one chart. Live runs follow one shared Watch (a browser has six
// connections to a server; twenty runs cannot each have their own).

import { useEffect, useRef, useState } from "preact/hooks";
import { describe, getJob, LIVE_STATES, metricSeries, num, session, type Job } from "../api";
import { Chart, color, type Line } from "../chart";
import { href } from "../router";
import { addMetricsEvent, Series, seriesKey, type XAxis } from "../series";
import { watch } from "../stream";
import { AxisControls, spec, xValues } from "./metrics";

interface Run {
  job: Job;
  series: Map<string, Series>;
  lastSeq: number;
}

// 20 live runs redraw at most 4 times a second: enough to see them move, and the page stays
// mostly idle (scripts/bench_console.py measures it).
const COMPARE_MIN_DRAW_INTERVAL_MS = 250;

export function CompareView(props: { jobIds: string[] }) {
  const runs = useRef<Run[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [errors, setErrors] = useState<string[]>([]);
  const [version, setVersion] = useState(0);
  const [name, setName] = useState("");
  const [phase, setPhase] = useState("");
  const [axis, setAxis] = useState<XAxis>("epoch");
  const [log, setLog] = useState(false);
  const key = props.jobIds.join(",");

  useEffect(() => {
    let cancelled = false;
    let stopWatch = () => {};
    let timer = 0;
    runs.current = [];
    setLoaded(false);
    // Each run's line keeps about this many points; twenty of them are joined on one x axis.
    const width = 800;
    Promise.all(
      props.jobIds.map(async (jobId) => {
        try {
          const [job, reply] = await Promise.all([getJob(jobId), metricSeries(jobId, { maxPoints: width })]);
          const series = new Map(reply.series.map((s) => [seriesKey(s.name, s.phase), Series.fromReply(s)]));
          return { job, series, lastSeq: num(reply.last_seq) } as Run;
        } catch (e) {
          return `${jobId}: ${describe(e)}`;
        }
      }),
    ).then((found) => {
      if (cancelled) return;
      runs.current = found.filter((r): r is Run => typeof r !== "string");
      setErrors(found.filter((r): r is string => typeof r === "string"));
      setLoaded(true);
      const first = [...(runs.current[0]?.series.values() ?? [])];
      const preferred = first.find((s) => s.name === "loss" && s.phase === "validation") ??
        first.find((s) => s.name === "loss") ?? first[0];
      if (preferred) {
        setName((n) => n || preferred.name);
        setPhase((p) => p || preferred.phase);
      }
      const live = runs.current.filter((r) => LIVE_STATES.includes(r.job.state));
      if (!live.length) return;
      const byId = new Map(live.map((r) => [r.job.job_id, r]));
      stopWatch = watch({ types: ["metrics"] }, Math.min(...live.map((r) => r.lastSeq)), {
        events: (events) => {
          let added = false;
          for (const event of events) {
            const run = byId.get(event.job_id);
            if (run && Number(event.seq) > run.lastSeq) {
              added = addMetricsEvent(run.series, event) || added;
              run.lastSeq = Number(event.seq);
            }
          }
          if (!added || timer) return;
          // Re-rendered (and so redrawn) at most once per interval, however many runs report.
          timer = window.setTimeout(() => {
            timer = 0;
            for (const run of live) for (const s of run.series.values()) s.compact(width);
            setVersion((v) => v + 1);
          }, COMPARE_MIN_DRAW_INTERVAL_MS);
        },
      });
    });
    return () => {
      cancelled = true;
      stopWatch();
      clearTimeout(timer);
    };
  }, [key, session.value]);


  if (!props.jobIds.length)
    return (
      <section>
        <h1>Compare</h1>
        <p class="muted">Pick two or more runs in the <a href={href("jobs")}>jobs list</a> (tick them, then
          “Compare selected”), or filter the list by project and compare all its runs.</p>
      </section>
    );

  const all = runs.current;
  const names = [...new Set(all.flatMap((r) => [...r.series.values()].map((s) => s.name)))].sort();
  const phases = [...new Set(all.flatMap((r) => [...r.series.values()].filter((s) => s.name === name).map((s) => s.phase)))];
  const lines: Line[] = all.flatMap((run) => {
    const s = run.series.get(seriesKey(name, phase));
    if (!s) return [];
    const start = num(run.job.started_at) || num(run.job.created_at);
    return [{
      label: runLabel(run),
      xs: xValues(s, axis, start),
      ys: s.values,
      times: s.times,
    }];
  });

  return (
    <section>
      <h1>Compare {all.length} runs</h1>
      {errors.map((e) => <p class="error" role="alert">{e}</p>)}
      {!loaded && <p class="muted">Loading runs…</p>}
      {loaded && (
        <div class="compare-controls">
          <label>Metric{" "}
            <select name="metric" value={name} onChange={(e) => setName(e.currentTarget.value)}>
              {names.map((n) => <option value={n}>{n}</option>)}
            </select>
          </label>
          <label>Phase{" "}
            <select name="phase" value={phase} onChange={(e) => setPhase(e.currentTarget.value)}>
              {phases.map((p) => <option value={p}>{p || "—"}</option>)}
            </select>
          </label>
          <AxisControls axis={axis} log={log} setAxis={setAxis} setLog={setLog} />
        </div>
      )}
      {loaded && (
        <div class="compare-chart">
          <Chart version={version} spec={spec(`${phase ? `${phase} ` : ""}${name}`, axis, log)} lines={lines}
            minIntervalMs={COMPARE_MIN_DRAW_INTERVAL_MS} />
        </div>
      )}
      <ul class="runs">
        {all.map((run) => (
          <li>
            <span class="swatch" style={{ background: lineColor(lines, run) }} />
            <a href={href("job", run.job.job_id)}>{run.job.service_name} {run.job.kind} {run.job.service_uuid}{" "}
            <code>{run.job.job_id.slice(0, 12)}</code></a> — {run.job.state}</li>
        ))}
      </ul>
    </section>
  );
}

const runLabel = (run: Run) => `${run.job.service_uuid} ${run.job.job_id.slice(0, 8)}`;

function lineColor(lines: Line[], run: Run): string {
  const at = lines.findIndex((l) => l.label === runLabel(run));
  return at < 0 ? "transparent" : color(at);
}
