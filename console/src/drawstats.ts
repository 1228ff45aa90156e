// How long after the worker's event a point was on the chart (event timestamp to the draw),
// kept for scripts/bench_console.py and the browser tests, which read window.k12aiDrawStats.

const KEEP = 100_000;

class DrawStats {
  latenciesMs: number[] = [];
  draws = 0;

  record(latencyMs: number): void {
    this.draws += 1;
    if (this.latenciesMs.length < KEEP) this.latenciesMs.push(latencyMs);
  }

  reset(): void {
    this.latenciesMs = [];
    this.draws = 0;
  }
}

export const drawStats = new DrawStats();
(window as unknown as { k12aiDrawStats: DrawStats }).k12aiDrawStats = drawStats;
