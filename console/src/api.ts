// The page's only way to the server: k12ai's public REST API on the page's own origin.
// The token lives in this module's memory only: nothing is kept once the tab is closed
// (nor after a reload), and it never goes into a URL.

import { signal } from "@preact/signals";

export const SUCCESS = 100000;
export const QUEUED = 100204;
const UNAUTHENTICATED = 16;

export interface Session {
  token: string;
  user: string;
}

export const session = signal<Session>({ token: "", user: "test" });
// Set when the server asked for a token (or refused the one given): the page shows the prompt.
export const tokenWanted = signal(false);
// Set while the server cannot be reached; cleared by the next answer.
export const connectionLost = signal(false);

/** A refused call: the gRPC status code and message the gateway answered with. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The server could not be reached at all. */
export class Unreachable extends Error {}

export function authHeaders(): Record<string, string> {
  const token = session.value.token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function call<T>(path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...authHeaders(), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    connectionLost.value = true;
    throw new Unreachable("lost the connection to the server");
  }
  connectionLost.value = false;
  return (await readAnswer(response)) as T;
}

export async function readAnswer(response: Response): Promise<unknown> {
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: a proxy's page, say. Shown as the message below.
  }
  if (response.ok && parsed !== undefined) return parsed;
  const status = parsed as { code?: number; message?: string } | undefined;
  const error = new ApiError(
    response.status,
    status?.code ?? 2,
    status?.message ?? `HTTP ${response.status}: ${text.slice(0, 200)}`,
  );
  noteAuthFailure(error);
  throw error;
}

export function noteAuthFailure(error: ApiError): void {
  if (error.code === UNAUTHENTICATED) tokenWanted.value = true;
}

/** The message to show for any failure of a call. */
export function describe(error: unknown): string {
  if (error instanceof ApiError || error instanceof Unreachable) return error.message;
  return error instanceof Error ? error.message : String(error);
}

// int64 fields come as JSON strings (protobuf's JSON mapping).
export const num = (value: string | number | undefined): number => Number(value ?? 0);

export interface Job {
  job_id: string;
  user: string;
  service_name: string;
  service_uuid: string;
  kind: string;
  state: string;
  reason: string;
  exit_code?: number;
  cache_dir: string;
  created_at: string;
  started_at: string;
  ended_at: string;
  last_seq: string;
  service_params?: Record<string, unknown>;
}

export interface MetricSeriesReply {
  name: string;
  phase: string;
  count: string;
  latest: number;
  values: number[];
  epochs: number[];
  progress: number[];
  times: number[];
}

export interface Event {
  seq: string;
  job_id: string;
  type: string;
  op: string;
  user: string;
  service_uuid: string;
  timestamp: string;
  datetime: string;
  payload: unknown;
}

export const LIVE_STATES = ["queued", "starting", "running"];

export const getJob = (jobId: string) =>
  call<{ job: Job }>(`/k12ai/framework/jobs/${encodeURIComponent(jobId)}`).then((r) => r.job);

export function listJobs(filter: { user?: string; service_uuid?: string; states?: string[] }): Promise<Job[]> {
  const query = new URLSearchParams({ limit: "100" });
  if (filter.user) query.set("user", filter.user);
  if (filter.service_uuid) query.set("service_uuid", filter.service_uuid);
  for (const state of filter.states ?? []) query.append("states", state);
  return call<{ jobs: Job[] }>(`/k12ai/framework/jobs?${query}`).then((r) => r.jobs);
}

export function metricSeries(
  jobId: string,
  options: { maxPoints?: number; latestOnly?: boolean } = {},
): Promise<{ series: MetricSeriesReply[]; last_seq: string }> {
  const query = new URLSearchParams();
  if (options.maxPoints) query.set("max_points", String(Math.round(options.maxPoints)));
  if (options.latestOnly) query.set("latest_only", "true");
  return call(`/k12ai/framework/jobs/${encodeURIComponent(jobId)}/metrics?${query}`);
}

export interface Reply {
  code: number;
  descr: string;
  message: unknown;
  job_id?: string;
}

/** Stops a live job through the seed's endpoint (op `<kind>.stop`). */
export function stopJob(job: Job): Promise<Reply> {
  return call<Reply>(`/k12ai/framework/${job.kind}`, {
    op: `${job.kind}.stop`,
    user: job.user,
    service_name: job.service_name,
    service_uuid: job.service_uuid,
  });
}
