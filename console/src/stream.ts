// Follows a Watch as server-sent events, read through fetch (an EventSource cannot send the
// Authorization header). After a dropped connection it asks again from the last seq it got,
// so every event arrives exactly once; it stops at the job's `end`.

import { ApiError, authHeaders, connectionLost, noteAuthFailure, readAnswer, type Event } from "./api";

export interface WatchFilter {
  job_id?: string;
  service_uuid?: string;
  types?: string[];
}

export interface WatchHandlers {
  events(events: Event[]): void;
  end?(state: string): void;
  // The stream could not go on and will not retry (refused: not found, no permission).
  failed?(error: ApiError): void;
}

interface WatchMessage {
  events?: Event[];
  end?: { job_id: string; state: string };
}

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4000;

/** Follows events with seq > afterSeq until the returned function is called or the job ends. */
export function watch(filter: WatchFilter, afterSeq: number, handlers: WatchHandlers): () => void {
  const control = new AbortController();
  let lastSeq = afterSeq;
  let retryMs = RETRY_FIRST_MS;

  const url = () => {
    const query = new URLSearchParams({ after_seq: String(lastSeq) });
    if (filter.job_id) query.set("job_id", filter.job_id);
    if (filter.service_uuid) query.set("service_uuid", filter.service_uuid);
    for (const type of filter.types ?? []) query.append("types", type);
    return `/k12ai/framework/events?${query}`;
  };

  const deliver = (message: WatchMessage): boolean => {
    const fresh = (message.events ?? []).filter((e) => Number(e.seq) > lastSeq);
    if (fresh.length) {
      lastSeq = Number(fresh[fresh.length - 1].seq);
      handlers.events(fresh);
    }
    if (message.end && (!filter.job_id || message.end.job_id === filter.job_id)) {
      if (filter.job_id) {
        handlers.end?.(message.end.state);
        return true;
      }
    }
    return false;
  };

  const once = async (): Promise<boolean> => {
    const response = await fetch(url(), {
      headers: { ...authHeaders(), Accept: "text/event-stream" },
      signal: control.signal,
    });
    connectionLost.value = false;
    if (!response.ok || !response.body) {
      await readAnswer(response);
      return true;
    }
    retryMs = RETRY_FIRST_MS;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (handleFrame(frame)) {
          control.abort();
          return true;
        }
      }
    }
  };

  // One SSE frame: `data:` lines (a {"result": WatchResponse}), or `event: error` with a status.
  const handleFrame = (frame: string): boolean => {
    let kind = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event:")) kind = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (!data.length) return false;
    const parsed = JSON.parse(data.join("\n"));
    if (kind === "error") {
      const status = parsed.error ?? parsed;
      throw new ApiError(500, status.code ?? 2, status.message ?? "the stream failed");
    }
    return deliver(parsed.result ?? parsed);
  };

  const run = async () => {
    while (!control.signal.aborted) {
      try {
        if (await once()) return;
      } catch (error) {
        if (control.signal.aborted) return;
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          noteAuthFailure(error);
          handlers.failed?.(error);
          return;
        }
        // A dropped or refused connection: say so, and try again from lastSeq.
        connectionLost.value = !(error instanceof ApiError);
      }
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    }
  };
  void run();
  return () => control.abort();
}
