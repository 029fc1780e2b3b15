// A small reader for the Prometheus text format (the admin page's host status).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] === undefined || m[4] === undefined) continue;
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l = re.exec(m[3] ?? ""); l; l = re.exec(m[3] ?? "")) {
      if (l[1] !== undefined) labels[l[1]] = (l[2] ?? "").replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = Number(m[4]);
    if (!Number.isNaN(value) || m[4] === "NaN") out.push({ name: m[1], labels, value });
  }
  return out;
}

export function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): number | null {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : null;
}
