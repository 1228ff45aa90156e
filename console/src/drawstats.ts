// When points were drawn, kept for scripts/bench_console.py and the browser tests, which read
// window.k12aiDrawStats: each live point's latency (its event's timestamp to the uPlot draw
// that showed it), and when the first chart, and the last of the charts, first drew history.

const KEEP = 100_000;

class DrawStats {
  latenciesMs: number[] = [];
  // performance.now() (ms since navigation) of the first draw of any chart, and of the latest
  // chart's first draw: together, "first chart complete" and "all charts complete".
  firstDrawMs = 0;
  lastFirstDrawMs = 0;

  record(latencyMs: number): void {
    if (this.latenciesMs.length < KEEP) this.latenciesMs.push(latencyMs);
  }

  chartDrawn(): void {
    const now = performance.now();
    if (!this.firstDrawMs) this.firstDrawMs = now;
    this.lastFirstDrawMs = now;
  }

  reset(): void {
    this.latenciesMs = [];
  }
}

export const drawStats = new DrawStats();
(window as unknown as { k12aiDrawStats: DrawStats }).k12aiDrawStats = drawStats;
