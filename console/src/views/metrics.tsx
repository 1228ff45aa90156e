// A job's metric charts: one chart per metric, one line per phase. The history comes
// downsampled from GetMetricSeries; the live tail from a Watch that starts at its last_seq,
// so no point is missing or drawn twice. Live points go to the charts directly, without
// re-rendering the page.

import { useEffect, useRef, useState } from "preact/hooks";
import { describe, metricSeries } from "../api";
import { Chart, LiveChart, type ChartSpec, type Line } from "../chart";
import { metric } from "../format";
import { addMetricsEvent, Series, type XAxis } from "../series";
import { watch } from "../stream";

export const X_LABELS: Record<XAxis, string> = {
  epoch: "epoch",
  progress: "progress",
  time: "seconds since start",
};

export function xValues(series: Series, axis: XAxis, startMs: number): number[] {
  if (axis === "progress") return series.progress;
  if (axis === "time") return series.times.map((t) => (t - startMs) / 1000);
  return series.epochs;
}

export function AxisControls(props: {
  axis: XAxis; log: boolean; setAxis: (a: XAxis) => void; setLog: (l: boolean) => void;
}) {
  return (
    <div class="axis-controls">
      <label>x axis{" "}
        <select name="x-axis" value={props.axis} onChange={(e) => props.setAxis(e.currentTarget.value as XAxis)}>
          {(Object.keys(X_LABELS) as XAxis[]).map((a) => <option value={a}>{X_LABELS[a]}</option>)}
        </select>
      </label>
      <label><input type="checkbox" name="log-scale" checked={props.log}
        onChange={(e) => props.setLog(e.currentTarget.checked)} /> log scale</label>
    </div>
  );
}

export function JobMetrics(props: { jobId: string; live: boolean; startMs: number }) {
  const series = useRef(new Map<string, Series>());
  const [names, setNames] = useState<string[]>([]);
  const [version, setVersion] = useState(0);
  const [axis, setAxis] = useState<XAxis>("epoch");
  const [log, setLog] = useState(false);
  const [error, setError] = useState("");
  const [loaded, setLoaded] = useState(false);
  const grid = useRef<HTMLDivElement>(null);
  const charts = useRef(new Map<string, LiveChart>());
  // What the live handler draws with: the settings of the latest render.
  const view = useRef({ axis, log, startMs: props.startMs });
  view.current = { axis, log, startMs: props.startMs };

  useEffect(() => {
    let stopWatch = () => {};
    let tableTimer = 0;
    let cancelled = false;
    series.current = new Map();
    const width = chartWidth(grid.current) * (window.devicePixelRatio || 1);
    metricSeries(props.jobId, { maxPoints: Math.min(width, 4000) })
      .then((reply) => {
        if (cancelled) return;
        for (const s of reply.series) {
          const one = Series.fromReply(s);
          series.current.set(one.key, one);
        }
        setNames(chartNames(series.current));
        setLoaded(true);
        setVersion((v) => v + 1);
        if (!props.live) return;
        stopWatch = watch({ job_id: props.jobId, types: ["metrics"] }, Number(reply.last_seq), {
          events: (events) => {
            let added = false;
            for (const event of events) added = addMetricsEvent(series.current, event) || added;
            if (!added) return;
            for (const s of series.current.values()) s.compact(width);
            const now = chartNames(series.current);
            setNames((before) => (before.join() === now.join() ? before : now));
            // Live points go to the charts straight away (each draws at its next frame; a hidden
            // tab runs none, and catches up in one draw when it shows); the table below follows
            // a few times a second.
            const { axis, log, startMs } = view.current;
            for (const [name, chart] of charts.current)
              chart.update(linesOf(series.current, name, axis, startMs), spec(name, axis, log));
            if (!tableTimer)
              tableTimer = window.setTimeout(() => {
                tableTimer = 0;
                setVersion((v) => v + 1);
              }, TABLE_REFRESH_MS);
          },
        });
      })
      .catch((e) => !cancelled && setError(describe(e)));
    return () => {
      cancelled = true;
      stopWatch();
      clearTimeout(tableTimer);
    };
    // Not re-run when the job ends: the live tail ends by itself at the job's `end`, and the
    // points already drawn are every point the job had.
  }, [props.jobId]);

  const latest = [...series.current.values()];
  return (
    <div>
      <AxisControls axis={axis} log={log} setAxis={setAxis} setLog={setLog} />
      {error && <p class="error" role="alert">Could not load the metrics: {error}</p>}
      {loaded && series.current.size === 0 && <p class="muted">No metrics reported {props.live ? "yet" : ""}.</p>}
      <div class="charts" ref={grid}>
        {names.map((name) => (
          <Chart key={name} version={version} spec={spec(name, axis, log)}
            lines={linesOf(series.current, name, axis, props.startMs)}
            register={(chart) => (chart ? charts.current.set(name, chart) : charts.current.delete(name))} />
        ))}
      </div>
      {latest.length > 0 && (
        <table class="latest">
          <thead><tr><th>Metric</th><th>Phase</th><th>Latest</th><th>Points</th></tr></thead>
          <tbody>
            {latest.map((s) => (
              <tr data-series={s.key}><td>{s.name}</td><td>{s.phase || "—"}</td><td>{metric(s.latest)}</td><td>{s.count}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const TABLE_REFRESH_MS = 250;

// The charts' grid column: at least CHART_MIN_WIDTH_PX wide (style.css), as many as fit.
const CHART_MIN_WIDTH_PX = 420;

/** About one chart's width in CSS pixels: the points per series worth fetching and keeping. */
function chartWidth(grid: HTMLElement | null): number {
  const total = Math.max(grid?.clientWidth ?? 1000, CHART_MIN_WIDTH_PX);
  return total / Math.max(1, Math.floor(total / CHART_MIN_WIDTH_PX));
}

const specs = new Map<string, ChartSpec>();
// The same object for the same settings, so a chart is rebuilt only when they change.
export function spec(title: string, axis: XAxis, log: boolean): ChartSpec {
  const key = `${title}|${axis}|${log}`;
  let found = specs.get(key);
  if (!found) specs.set(key, (found = { title, xLabel: X_LABELS[axis], log }));
  return found;
}

/** The metrics worth a chart: those with two points or more (an evaluation's one value is in the table). */
function chartNames(all: Map<string, Series>): string[] {
  const names = [...new Set([...all.values()].filter((s) => s.count > 1).map((s) => s.name))];
  const first = ["loss", "accuracy", "accuracy3"];
  const rank = (n: string) => (first.includes(n) ? first.indexOf(n) : 9);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const PHASES = ["train", "validation", "test", ""];

function linesOf(all: Map<string, Series>, name: string, axis: XAxis, startMs: number): Line[] {
  return [...all.values()]
    .filter((s) => s.name === name)
    .sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase))
    .map((s) => ({
      label: s.phase || name,
      xs: xValues(s, axis, startMs),
      ys: s.values,
      times: s.times,
      dashed: s.phase === "validation",
    }));
}
