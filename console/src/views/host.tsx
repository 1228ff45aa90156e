// The host: CPU, memory and each GPU as small live charts (Platform.Stats once a second, as
// the host sampler refreshes), and the running job containers or processes with a stop button.

import { useEffect, useRef, useState } from "preact/hooks";
import { call, describe, session, SUCCESS, type Reply } from "../api";
import { Chart, type Line } from "../chart";
import { bytes } from "../format";
import { spec } from "./metrics";

const POLL_MS = 1000;
const KEEP_SAMPLES = 300;

interface Gpu {
  name: string;
  gpu_percent: number;
  gpu_memory_total: number;
  gpu_memory_usage: number;
  gpu_memory_percent: number;
}

interface Container {
  id: string;
  op: string;
  user: string;
  service_uuid: string;
  cpu_percent: number;
  cpu_memory_usage: number;
  cpu_memory_percent: number;
}

interface Stats {
  cpu_percent: number;
  cpu_memory_total: number;
  cpu_memory_usage: number;
  cpu_memory_percent: number;
  gpus: Gpu[];
  containers: Container[];
}

const request = (op: string, params: Record<string, unknown>) => ({
  op,
  user: session.value.user,
  service_uuid: "console",
  service_params: params,
});

export function HostView() {
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState("");
  const [notes, setNotes] = useState<Record<string, string>>({});
  const history = useRef(new Map<string, number[]>());
  const times = useRef<number[]>([]);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let timer = 0;
    let cancelled = false;
    const poll = async () => {
      try {
        const reply = await call<Reply>("/k12ai/platform/stats", request("query", {}));
        if (cancelled) return;
        if (reply.code !== SUCCESS) throw new Error(`${reply.code} ${reply.descr}: ${String(reply.message)}`);
        const sample = reply.message as Stats;
        record(history.current, times.current, sample);
        setStats(sample);
        setError("");
        setVersion((v) => v + 1);
      } catch (e) {
        if (!cancelled) setError(describe(e));
      }
      if (!cancelled) timer = window.setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [session.value]);

  const stop = async (id: string) => {
    setNotes((n) => ({ ...n, [id]: "stopping…" }));
    try {
      const reply = await call<Reply>("/k12ai/platform/control", request("container.stop", { id }));
      setNotes((n) => ({ ...n, [id]: reply.code === SUCCESS ? "stopping…" : `${reply.code}: ${String(reply.message)}` }));
    } catch (e) {
      setNotes((n) => ({ ...n, [id]: describe(e) }));
    }
  };

  const t0 = times.current[0] ?? 0;
  const xs = times.current.map((t) => (t - t0) / 1000);
  const line = (key: string, label: string): Line => ({
    label, xs, ys: history.current.get(key) ?? [], times: [],
  });
  const charts: [string, Line[]][] = [
    ["CPU %", [line("cpu", "cpu")]],
    ["memory %", [line("mem", "memory")]],
    ...(stats?.gpus ?? []).map((g, i): [string, Line[]] => [
      `GPU ${i} ${g.name}`, [line(`gpu${i}`, "utilisation %"), line(`gpumem${i}`, "memory %")],
    ]),
  ];

  return (
    <section>
      <h1>Host</h1>
      {error && <p class="error" role="alert">Could not read the host's statistics: {error}</p>}
      {stats && (
        <p class="meta">
          CPU {stats.cpu_percent.toFixed(0)} % · memory {bytes(stats.cpu_memory_usage)} of{" "}
          {bytes(stats.cpu_memory_total)} · {stats.gpus.length ? `${stats.gpus.length} GPU(s)` : "no GPU"}
        </p>
      )}
      <div class="charts small">
        {charts.map(([title, lines]) => (
          <Chart key={title} version={version} spec={spec(title, "time", false)} lines={lines} />
        ))}
      </div>
      <h2>Running jobs</h2>
      {stats && stats.containers.length === 0 && <p class="muted">No job is running.</p>}
      {stats && stats.containers.length > 0 && (
        <table class="containers">
          <thead><tr><th>Id</th><th>Op</th><th>User</th><th>Project</th><th>CPU %</th><th>Memory</th><th></th></tr></thead>
          <tbody>
            {stats.containers.map((c) => (
              <tr data-container={c.id}>
                <td><code>{c.id.slice(0, 12)}</code></td><td>{c.op}</td><td>{c.user}</td><td>{c.service_uuid}</td>
                <td>{c.cpu_percent.toFixed(0)}</td><td>{bytes(c.cpu_memory_usage)}</td>
                <td><button class="stop" disabled={!!notes[c.id]} onClick={() => stop(c.id)}>Stop</button>{" "}
                  {notes[c.id] && <span class="muted">{notes[c.id]}</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function record(history: Map<string, number[]>, times: number[], s: Stats): void {
  const add = (key: string, value: number) => {
    const values = history.get(key) ?? [];
    values.push(value);
    if (values.length > KEEP_SAMPLES) values.shift();
    history.set(key, values);
  };
  times.push(Date.now());
  if (times.length > KEEP_SAMPLES) times.shift();
  add("cpu", s.cpu_percent);
  add("mem", s.cpu_memory_percent);
  s.gpus.forEach((g, i) => {
    add(`gpu${i}`, g.gpu_percent);
    add(`gpumem${i}`, g.gpu_memory_percent);
  });
}
