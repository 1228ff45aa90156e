// A job's metric series in the page: the server's downsampled history, then live points.
// Which payload keys are metrics and where a point sits on each x axis follow
// k12ai_server/events/series.py, the definition the history was made with.
// POSITION_KEYS is k12ai_contract.events.METRIC_POSITION_KEYS (tests/contract pins the two).

import type { Event, MetricSeriesReply } from "./api";

export type XAxis = "epoch" | "progress" | "time";

export const POSITION_KEYS = new Set([
  "phase", "epoch", "num_epochs", "batch", "num_batches", "progress", "elapsed_s", "n_estimators",
]);

export class Series {
  epochs: number[] = [];
  progress: number[] = [];
  times: number[] = [];
  values: number[] = [];
  count = 0;
  latest = NaN;

  constructor(
    readonly name: string,
    readonly phase: string,
  ) {}

  get key(): string {
    return seriesKey(this.name, this.phase);
  }

  static fromReply(reply: MetricSeriesReply): Series {
    const series = new Series(reply.name, reply.phase);
    series.epochs = reply.epochs ?? [];
    series.progress = reply.progress ?? [];
    series.times = reply.times ?? [];
    series.values = reply.values ?? [];
    series.count = Number(reply.count);
    series.latest = reply.latest;
    return series;
  }

  x(axis: XAxis): number[] {
    return axis === "epoch" ? this.epochs : axis === "progress" ? this.progress : this.times;
  }

  push(epoch: number, progress: number, time: number, value: number): void {
    this.epochs.push(epoch);
    this.progress.push(progress);
    this.times.push(time);
    this.values.push(value);
    this.count += 1;
    this.latest = value;
  }

  /** Keeps a live series near `width` points: each run of points becomes its minimum and maximum. */
  compact(width: number): void {
    if (this.values.length <= width * 4) return;
    const buckets = Math.max(1, Math.floor(width / 2));
    const size = Math.ceil(this.values.length / buckets);
    const keep: number[] = [];
    for (let start = 0; start < this.values.length; start += size) {
      const end = Math.min(start + size, this.values.length);
      let low = start;
      let high = start;
      for (let i = start; i < end; i++) {
        if (this.values[i] < this.values[low]) low = i;
        if (this.values[i] > this.values[high]) high = i;
      }
      // Drawn at the run's ends, as the server does, in the order they happened.
      const [a, b] = low <= high ? [low, high] : [high, low];
      keep.push(start, a, end - 1, b);
    }
    const pick = (xs: number[], at: number) => xs[at];
    const rebuild = (xs: number[], valued: boolean) => {
      const out: number[] = [];
      for (let i = 0; i < keep.length; i += 2) out.push(valued ? pick(xs, keep[i + 1]) : pick(xs, keep[i]));
      return out;
    };
    this.epochs = rebuild(this.epochs, false);
    this.progress = rebuild(this.progress, false);
    this.times = rebuild(this.times, false);
    this.values = rebuild(this.values, true);
  }
}

export const seriesKey = (name: string, phase: string) => (phase ? `${phase} ${name}` : name);

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** Adds a metrics event's values to `into` (created as needed); true when a point was added. */
export function addMetricsEvent(into: Map<string, Series>, event: Event): boolean {
  if (event.type !== "metrics" || !event.payload || typeof event.payload !== "object") return false;
  const payload = event.payload as Record<string, unknown>;
  const phase = typeof payload.phase === "string" ? payload.phase : "";
  const time = Number(event.timestamp);
  let added = false;
  for (const [name, value] of Object.entries(payload)) {
    if (POSITION_KEYS.has(name) || !isNumber(value)) continue;
    const key = seriesKey(name, phase);
    let series = into.get(key);
    if (!series) {
      series = new Series(name, phase);
      into.set(key, series);
    }
    const [epoch, progress] = position(payload, series.count);
    series.push(epoch, progress, time, value);
    added = true;
  }
  return added;
}

function position(payload: Record<string, unknown>, index: number): [number, number] {
  const { epoch, batch, num_batches, num_epochs, progress } = payload;
  let xEpoch: number;
  if (!isNumber(epoch)) xEpoch = index + 1;
  else if (payload.phase === "train" && isNumber(batch) && isNumber(num_batches) && num_batches)
    xEpoch = epoch - 1 + batch / num_batches;
  else xEpoch = epoch;
  if (isNumber(progress)) return [xEpoch, progress];
  if (isNumber(epoch) && isNumber(num_epochs) && num_epochs) return [xEpoch, epoch / num_epochs];
  return [xEpoch, 1];
}
