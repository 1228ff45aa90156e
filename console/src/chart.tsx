// One uPlot chart of lines that may each have their own x values (training points every
// batch, validation points once an epoch). Redraws are coalesced into one per animation
// frame, and none happen while the tab is hidden (the data keeps arriving meanwhile).

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { drawStats } from "./drawstats";

export interface Line {
  label: string;
  xs: number[];
  ys: number[];
  // Event timestamps (ms) of the points, for the draw-latency figure; empty when not events.
  times: number[];
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  log: boolean;
}

const COLORS = [
  "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
  "#4b5563", "#65a30d", "#7c3aed", "#0d9488", "#b91c1c", "#1d4ed8", "#a16207", "#be185d",
  "#15803d", "#6d28d9", "#c2410c", "#0e7490",
];

export const color = (i: number) => COLORS[i % COLORS.length];
export const LEGEND_MAX_LINES = 8;

export class LiveChart {
  private plot: uPlot | null = null;
  private shape = "";
  private frame = 0;
  private lastDraw = 0;
  private lines: Line[] = [];
  // Per line, the newest event timestamp already drawn; and the points awaiting their draw.
  private drawnUpTo = new Map<string, number>();
  private awaiting: number[] = [];
  private everDrawn = false;

  constructor(
    private readonly host: HTMLElement,
    private spec: ChartSpec,
    // At least this long between two draws (the compare view draws 20 runs less often).
    private readonly minIntervalMs = 0,
  ) {
    document.addEventListener("visibilitychange", this.onVisibility);
  }

  update(lines: Line[], spec: ChartSpec): void {
    this.lines = lines;
    this.spec = spec;
    this.schedule();
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.plot?.destroy();
    this.plot = null;
  }

  private onVisibility = () => {
    if (!document.hidden) this.schedule();
  };

  private schedule(): void {
    if (this.frame || document.hidden) return;
    this.frame = requestAnimationFrame((now) => {
      this.frame = 0;
      if (now - this.lastDraw < this.minIntervalMs) {
        setTimeout(() => this.schedule(), this.minIntervalMs - (now - this.lastDraw));
        return;
      }
      this.lastDraw = now;
      this.draw();
    });
  }

  private draw(): void {
    const data = uPlot.join(this.lines.map((l) => [l.xs, l.ys] as uPlot.AlignedData));
    const shape = JSON.stringify([this.lines.map((l) => l.label), this.spec]);
    const width = Math.max(this.host.clientWidth, 200);
    if (!this.plot || shape !== this.shape) {
      this.plot?.destroy();
      this.plot = new uPlot(this.options(width), data, this.host);
      this.shape = shape;
    } else {
      this.plot.setData(data);
      if (this.plot.width !== width) this.plot.setSize({ width, height: this.plot.height });
    }
    this.host.dataset.points = String(this.lines.reduce((n, l) => n + l.ys.length, 0));
    for (const line of this.lines) {
      const before = this.drawnUpTo.get(line.label);
      const times = line.times;
      if (!times.length) continue;
      // History (the first draw) has no latency; each newer point waits for the draw hook.
      if (before !== undefined)
        for (let i = times.length - 1; i >= 0 && times[i] > before; i--) this.awaiting.push(times[i]);
      this.drawnUpTo.set(line.label, Math.max(before ?? 0, times[times.length - 1]));
    }
  }

  // uPlot's draw hook: the canvas now shows the data.
  private onDrawn = () => {
    const now = Date.now();
    for (const t of this.awaiting) drawStats.record(now - t);
    this.awaiting = [];
    if (!this.everDrawn && this.lines.some((l) => l.ys.length)) {
      this.everDrawn = true;
      drawStats.chartDrawn();
    }
  };

  private options(width: number): uPlot.Options {
    const { spec } = this;
    return {
      title: spec.title,
      width,
      height: 220,
      scales: { x: { time: false }, y: spec.log ? { distr: 3 } : {} },
      axes: [{ label: spec.xLabel }, {}],
      // A legend of twenty runs costs a re-layout per draw; the compare view names them below instead.
      legend: { live: true, show: this.lines.length <= LEGEND_MAX_LINES },
      hooks: { draw: [this.onDrawn] },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: spec.xLabel },
        ...this.lines.map((line, i) => ({
          label: line.label,
          stroke: color(i),
          width: 1.5,
          spanGaps: true,
          dash: line.dashed ? [6, 4] : undefined,
          points: { show: line.ys.length < 40 },
        })),
      ],
    };
  }
}

/** A chart element that redraws when `lines`, `spec` or `version` change. */
export function Chart(props: {
  lines: Line[];
  spec: ChartSpec;
  version: number;
  minIntervalMs?: number;
  // Hands out the chart, for a caller that feeds it live points without re-rendering.
  register?: (chart: LiveChart | null) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<LiveChart | null>(null);
  useEffect(() => {
    chart.current = new LiveChart(host.current!, props.spec, props.minIntervalMs);
    props.register?.(chart.current);
    return () => {
      props.register?.(null);
      chart.current?.destroy();
    };
  }, []);
  useEffect(() => {
    chart.current?.update(props.lines, props.spec);
  }, [props.lines, props.spec, props.version]);
  return <div class="chart" data-title={props.spec.title} ref={host} />;
}
