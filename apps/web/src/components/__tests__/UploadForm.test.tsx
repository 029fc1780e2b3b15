// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { UploadForm } from "../UploadForm";

vi.mock("next/link", () => ({
  default: ({ href, children, ...rest }: { href: string; children: ReactNode }) => (
    <a href={href} {...rest}>
      {children}
    </a>
  ),
}));

/** The XMLHttpRequest the form creates; the test drives its events. */
class FakeXhr {
  static last: FakeXhr | null = null;
  withCredentials = false;
  responseType = "";
  status = 0;
  responseText = "";
  upload: { onprogress: ((e: ProgressEventInit) => void) | null; onload: (() => void) | null } = {
    onprogress: null,
    onload: null,
  };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  url = "";
  constructor() {
    FakeXhr.last = this;
  }
  open(_m: string, url: string) {
    this.url = url;
  }
  setRequestHeader() {}
  send() {}
  abort() {}
}

const csv = () => new File(["PassengerId,Survived\n892,x\n"], "preds.csv", { type: "text/csv" });

describe("UploadForm", () => {
  beforeEach(() => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
  });
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
    vi.useRealTimers();
    FakeXhr.last = null;
  });

  it("takes a dropped file, shows the progress bar, then the validation error with line and column", async () => {
    render(<UploadForm slug="titanic-survival" remaining={5} />);
    const zone = screen.getByTestId("upload-dropzone");
    fireEvent.drop(zone, { dataTransfer: { files: [csv()] } });
    expect(screen.getByTestId("upload-filename").textContent).toContain("preds.csv");
    fireEvent.click(screen.getByTestId("upload-submit"));
    const xhr = FakeXhr.last;
    expect(xhr?.url).toBe("/api/v1/competitions/titanic-survival/submissions");
    act(() => xhr?.upload.onprogress?.({ loaded: 30, total: 120, lengthComputable: true }));
    const bar = screen.getByTestId("upload-progress") as HTMLProgressElement;
    expect(bar.value).toBe(25);
    expect(screen.getByTestId("upload-phase").textContent).toBe("Uploading… 25%");
    await act(async () => {
      xhr!.status = 422;
      xhr!.responseText = JSON.stringify({
        status: 422,
        code: "submission_invalid",
        detail: 'line 2, column "Survived": not an integer',
      });
      xhr!.onload?.();
    });
    expect(screen.getByTestId("upload-error").textContent).toBe('line 2, column "Survived": not an integer');
    expect(screen.getByTestId("upload-error-line").textContent).toBe("2");
    expect(screen.getByTestId("upload-error-column").textContent).toBe("Survived");
  });

  it("shows the score once polling sees the submission scored", async () => {
    vi.useFakeTimers();
    const fetchMock = vi.fn(async () =>
      Response.json({
        data: { id: "s1", filename: "preds.csv", status: "scored", official_score: { primary_score: 0.123456789 } },
        meta: {},
      }),
    );
    vi.stubGlobal("fetch", fetchMock);
    render(<UploadForm slug="titanic-survival" remaining={5} />);
    fireEvent.change(screen.getByTestId("upload-input"), { target: { files: [csv()] } });
    fireEvent.click(screen.getByTestId("upload-submit"));
    await act(async () => {
      const xhr = FakeXhr.last!;
      xhr.status = 201;
      xhr.responseText = JSON.stringify({
        data: {
          submission: { id: "s1", filename: "preds.csv", status: "queued", official_score: null },
          daily_cap: 5,
          remaining_today: 4,
        },
      });
      xhr.onload?.();
    });
    expect(screen.getByTestId("upload-status").textContent).toBe("queued");
    expect(screen.getByTestId("upload-remaining").textContent).toBe("4 submissions left today");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1000);
    });
    expect(fetchMock).toHaveBeenCalledWith("/api/v1/submissions/s1", expect.objectContaining({ method: "GET" }));
    expect(screen.getByTestId("upload-status").textContent).toBe("scored");
    expect(screen.getByTestId("upload-score").textContent).toBe("0.12346");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(60_000);
    });
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });
});
