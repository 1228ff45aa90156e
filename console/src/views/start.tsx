// Start a job: pick a framework and one of the example requests (examples/, embedded when the
// console is built), edit the JSON, start. A refusal shows the server's code and message
// beside the key it names.

import { useMemo, useRef, useState } from "preact/hooks";
import { call, describe, QUEUED, SUCCESS, type Reply } from "../api";
import { href } from "../router";

// examples/<service_name>/<name>.json, as text: the editor shows them as written.
const EXAMPLES = import.meta.glob("../../../examples/*/*.json", {
  eager: true,
  query: "?raw",
  import: "default",
}) as Record<string, string>;

interface Example {
  framework: string;
  name: string;
  text: string;
}

const KINDS = ["train", "evaluate", "predict"];
// In the order a project's jobs run: its training first (the default pick), which evaluate and
// predict need.
const kindRank = (name: string) => {
  const rank = KINDS.findIndex((kind) => name.startsWith(kind));
  return rank < 0 ? KINDS.length : rank;
};

const examples: Example[] = Object.entries(EXAMPLES)
  .map(([path, text]) => {
    const [framework, file] = path.split("/").slice(-2);
    return { framework, name: file.replace(/\.json$/, ""), text };
  })
  .sort((a, b) => a.framework.localeCompare(b.framework) || kindRank(a.name) - kindRank(b.name) || a.name.localeCompare(b.name));
const frameworks = [...new Set(examples.map((e) => e.framework))];

interface Outcome {
  ok: boolean;
  text: string;
  field?: string;
  jobId?: string;
}

export function StartView() {
  const [framework, setFramework] = useState(frameworks.includes("k12ml") ? "k12ml" : frameworks[0]);
  const choices = useMemo(() => examples.filter((e) => e.framework === framework), [framework]);
  const [name, setName] = useState(choices[0]?.name ?? "");
  const [text, setText] = useState(choices[0]?.text ?? "");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);
  const editor = useRef<HTMLTextAreaElement>(null);

  const pick = (fw: string, example: string) => {
    const found = examples.find((e) => e.framework === fw && e.name === example) ??
      examples.find((e) => e.framework === fw);
    setFramework(fw);
    setName(found?.name ?? "");
    setText(found?.text ?? "");
    setOutcome(null);
  };

  const start = async () => {
    setOutcome(null);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch (e) {
      setOutcome({ ok: false, text: `The request is not valid JSON: ${(e as Error).message}. Fix it and start again.` });
      return;
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) {
      setOutcome({ ok: false, text: "The request must be a JSON object: {\"op\": ..., \"service_params\": {...}}." });
      return;
    }
    const kind = typeof body.op === "string" ? body.op.split(".")[0] : "";
    if (!KINDS.includes(kind)) {
      setOutcome({ ok: false, field: "op", text: `op must be one of ${KINDS.map((k) => `${k}.start`).join(", ")} (or .stop); it is ${JSON.stringify(body.op)}.` });
      return;
    }
    setBusy(true);
    try {
      const reply = await call<Reply>(`/k12ai/framework/${kind}`, body);
      const message = String(reply.message);
      if (reply.code === SUCCESS || reply.code === QUEUED)
        setOutcome({ ok: true, text: `${reply.code} ${reply.descr}: ${message}`, jobId: reply.job_id });
      else setOutcome({ ok: false, text: `${reply.code} ${reply.descr}: ${message}`, field: namedField(message) });
    } catch (e) {
      setOutcome({ ok: false, text: describe(e) });
    } finally {
      setBusy(false);
    }
  };

  const showField = (field: string) => {
    const at = findKey(text, field);
    const el = editor.current;
    if (el && at) {
      el.focus();
      el.setSelectionRange(at[0], at[1]);
    }
  };

  return (
    <section class="start">
      <h1>Start a job</h1>
      <div class="start-controls">
        <label>Framework{" "}
          <select name="framework" value={framework} onChange={(e) => pick(e.currentTarget.value, "")}>
            {frameworks.map((f) => <option value={f}>{f}</option>)}
          </select>
        </label>
        <label>Example{" "}
          <select name="example" value={name} onChange={(e) => pick(framework, e.currentTarget.value)}>
            {choices.map((e) => <option value={e.name}>{e.name}</option>)}
          </select>
        </label>
        <button class="primary" id="start" disabled={busy} onClick={start}>{busy ? "Starting…" : "Start"}</button>
      </div>
      <textarea ref={editor} name="request" spellcheck={false} value={text}
        onInput={(e) => setText(e.currentTarget.value)} rows={Math.min(40, text.split("\n").length + 2)} />
      {outcome && (
        <div class={outcome.ok ? "outcome ok" : "outcome error"} role={outcome.ok ? "status" : "alert"}>
          {outcome.field && (
            <button class="field" onClick={() => showField(outcome.field!)} title="select it in the editor">
              {outcome.field}
            </button>
          )}{" "}
          {outcome.text}
          {outcome.jobId && <> — <a href={href("job", outcome.jobId)}>follow job {outcome.jobId.slice(0, 12)}</a></>}
        </div>
      )}
      <p class="muted">The request is sent as written to <code>/k12ai/framework/&lt;kind&gt;</code> (the kind from
        <code> op</code>); data paths must lie under the server's data roots.</p>
    </section>
  );
}

/** The key a refusal names: "service_params.model.type: ..." or "missing mandatory field 'x'". */
export function namedField(message: string): string | undefined {
  const path = /^(?:[\w.]+ )?(service_params(?:\.[\w-]+)*)/.exec(message) ?? /(service_params(?:\.[\w-]+)+)/.exec(message);
  if (path) return path[1];
  const quoted = /field '([\w.]+)'/.exec(message) ?? /^(\w+) '/.exec(message);
  return quoted?.[1];
}

/** Where the last key of a dotted path is written in the editor's text. */
function findKey(text: string, field: string): [number, number] | null {
  const last = field.split(".").pop()!;
  const at = text.indexOf(`"${last}"`);
  return at < 0 ? null : [at, at + last.length + 2];
}
