// RFC 7807 problem answers from the API, and the helpers the forms use to show them.

export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  line?: number;
  column?: string;
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `Request failed (${problem.status})`);
    this.name = "ApiError";
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }

  get code(): string | undefined {
    return this.problem.code;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Builds a Problem from any error body (problem+json, other JSON, or nothing). */
export function toProblem(status: number, body: unknown, fallback?: string): Problem {
  if (isRecord(body) && (typeof body.detail === "string" || typeof body.code === "string")) {
    return { ...body, status: typeof body.status === "number" ? body.status : status } as Problem;
  }
  return {
    status,
    detail: fallback ?? (status === 0 ? "The server could not be reached." : `Request failed with HTTP ${status}.`),
  };
}

/** The message a page shows for a problem: its `detail`, plus field messages when it is generic. */
export function problemMessage(problem: Problem): string {
  const detail = problem.detail ?? problem.title ?? `Request failed with HTTP ${problem.status}.`;
  const fields = (problem.errors ?? []).map((e) => {
    const field = fieldName(e);
    return field ? `${field}: ${e.msg}` : e.msg;
  });
  if (problem.code === "request_validation_failed" && fields.length > 0) {
    return `${detail} ${fields.join("; ")}`;
  }
  return detail;
}

function fieldName(e: FieldError): string | undefined {
  const last = e.loc.length > 1 ? e.loc[e.loc.length - 1] : undefined;
  return last === undefined ? undefined : String(last);
}

/** Field-level messages keyed by the last element of `loc` (e.g. `email`, `password`). */
export function fieldErrors(problem: Problem | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of problem?.errors ?? []) {
    const field = fieldName(e);
    if (field && !(field in out)) out[field] = e.msg;
  }
  return out;
}

export interface LineColumn {
  line: number;
  column: string | null;
}

/**
 * Where a refused submission went wrong. The API names the line and column in `detail`
 * (`line 3, column "Survived": not an integer`) and, for CSV syntax errors, also as the
 * `line` and `column` members.
 */
export function submissionErrorLocation(problem: Problem): LineColumn | null {
  if (typeof problem.line === "number") {
    return { line: problem.line, column: typeof problem.column === "string" ? problem.column : null };
  }
  const m = /line (\d+)(?:, column "((?:[^"\\]|\\.)*)")?/.exec(problem.detail ?? "");
  if (!m || m[1] === undefined) return null;
  return { line: Number(m[1]), column: m[2] ?? null };
}
