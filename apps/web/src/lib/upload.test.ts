import { describe, expect, it, vi } from "vitest";
import { progressOf, uploadWithProgress, UploadError, type XhrLike } from "./upload";

class FakeXhr implements XhrLike {
  withCredentials = false;
  responseType: XMLHttpRequestResponseType = "";
  status = 0;
  responseText = "";
  upload: XhrLike["upload"] = { onprogress: null, onload: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  opened: [string, string] | null = null;
  headers: Record<string, string> = {};
  body: FormData | Blob | null = null;
  aborted = false;
  open(method: string, url: string) {
    this.opened = [method, url];
  }
  send(body: FormData | Blob | null) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  progress(loaded: number, total: number, lengthComputable = true) {
    this.upload.onprogress?.({ loaded, total, lengthComputable });
  }
  respond(status: number, text: string) {
    this.status = status;
    this.responseText = text;
    this.upload.onload?.();
    this.onload?.();
  }
}

const file = () => new Blob(["PassengerId,Survived\n892,1\n"], { type: "text/csv" });

describe("uploadWithProgress", () => {
  it("posts the file as multipart field `file`, reports progress and resolves with the parsed answer", async () => {
    const xhr = new FakeXhr();
    const progress: (number | null)[] = [];
    const onSent = vi.fn();
    const p = uploadWithProgress({
      url: "/api/v1/competitions/titanic-survival/submissions",
      file: file(),
      filename: "my.csv",
      onProgress: (e) => progress.push(e.fraction),
      onSent,
      createXhr: () => xhr,
    });
    expect(xhr.opened).toEqual(["POST", "/api/v1/competitions/titanic-survival/submissions"]);
    expect(xhr.withCredentials).toBe(true);
    expect(xhr.body).toBeInstanceOf(FormData);
    const part = (xhr.body as FormData).get("file") as File;
    expect(part.name).toBe("my.csv");
    xhr.progress(0, 400);
    xhr.progress(100, 400);
    expect(onSent).not.toHaveBeenCalled();
    xhr.progress(400, 400);
    expect(onSent).toHaveBeenCalledTimes(1);
    xhr.respond(201, '{"data":{"submission":{"id":"s1","status":"scored"}}}');
    await expect(p).resolves.toEqual({ status: 201, body: { data: { submission: { id: "s1", status: "scored" } } } });
    expect(progress).toEqual([0, 0.25, 1]);
    expect(onSent).toHaveBeenCalledTimes(1);
  });

  it("resolves with the problem body of a refused upload", async () => {
    const xhr = new FakeXhr();
    const p = uploadWithProgress({ url: "/u", file: file(), filename: "x.csv", createXhr: () => xhr });
    xhr.respond(422, '{"code":"submission_invalid","detail":"line 3, column \\"Survived\\": not an integer"}');
    const r = await p;
    expect(r.status).toBe(422);
    expect((r.body as { code: string }).code).toBe("submission_invalid");
  });

  it("rejects on a network error and on abort", async () => {
    const xhr = new FakeXhr();
    const p = uploadWithProgress({ url: "/u", file: file(), filename: "x.csv", createXhr: () => xhr });
    xhr.onerror?.();
    await expect(p).rejects.toMatchObject({ kind: "network" });

    const xhr2 = new FakeXhr();
    const ctl = new AbortController();
    const p2 = uploadWithProgress({ url: "/u", file: file(), filename: "x.csv", createXhr: () => xhr2, signal: ctl.signal });
    ctl.abort();
    await expect(p2).rejects.toBeInstanceOf(UploadError);
    expect(xhr2.aborted).toBe(true);
  });

  it("keeps a non-JSON answer as text", async () => {
    const xhr = new FakeXhr();
    const p = uploadWithProgress({ url: "/u", file: file(), filename: "x.csv", createXhr: () => xhr });
    xhr.respond(502, "Bad Gateway");
    await expect(p).resolves.toEqual({ status: 502, body: "Bad Gateway" });
  });

  it("progressOf: unknown totals give no fraction; fractions are clamped", () => {
    expect(progressOf(10, 0, false)).toEqual({ loaded: 10, total: 0, fraction: null });
    expect(progressOf(500, 400, true).fraction).toBe(1);
  });
});
