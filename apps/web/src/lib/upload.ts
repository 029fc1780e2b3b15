// A file upload with progress: fetch cannot report upload progress, XMLHttpRequest can.

export interface UploadProgress {
  loaded: number;
  total: number;
  /** 0..1, or null while the size is unknown. */
  fraction: number | null;
}

export interface UploadResult {
  status: number;
  body: unknown;
}

/** The subset of XMLHttpRequest the upload uses (tests pass a fake). */
export interface XhrLike {
  open(method: string, url: string): void;
  send(body: FormData | Blob | null): void;
  abort(): void;
  setRequestHeader(name: string, value: string): void;
  withCredentials: boolean;
  responseType: XMLHttpRequestResponseType;
  readonly status: number;
  readonly responseText: string;
  upload: {
    onprogress: ((ev: { loaded: number; total: number; lengthComputable: boolean }) => void) | null;
    onload?: (() => void) | null;
  };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  ontimeout?: (() => void) | null;
}

export interface UploadOptions {
  url: string;
  file: Blob;
  filename: string;
  field?: string;
  onProgress?: (p: UploadProgress) => void;
  /** Called once the request body is fully sent (the server is now validating / scoring). */
  onSent?: () => void;
  signal?: AbortSignal;
  createXhr?: () => XhrLike;
}

export class UploadError extends Error {
  constructor(
    message: string,
    readonly kind: "network" | "aborted",
  ) {
    super(message);
    this.name = "UploadError";
  }
}

export function progressOf(loaded: number, total: number, lengthComputable: boolean): UploadProgress {
  if (!lengthComputable || total <= 0) return { loaded, total: 0, fraction: null };
  return { loaded, total, fraction: Math.min(1, Math.max(0, loaded / total)) };
}

function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** POSTs `file` as multipart field `file`; resolves with the HTTP status and parsed body. */
export function uploadWithProgress(opts: UploadOptions): Promise<UploadResult> {
  const xhr = (opts.createXhr ?? (() => new XMLHttpRequest() as unknown as XhrLike))();
  return new Promise<UploadResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new UploadError("Upload cancelled.", "aborted"));
      return;
    }
    let sent = false;
    const markSent = () => {
      if (sent) return;
      sent = true;
      opts.onSent?.();
    };
    xhr.open("POST", opts.url);
    xhr.withCredentials = true;
    xhr.responseType = "text";
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.onprogress = (ev) => {
      const p = progressOf(ev.loaded, ev.total, ev.lengthComputable);
      opts.onProgress?.(p);
      if (p.fraction === 1) markSent();
    };
    xhr.upload.onload = () => markSent();
    xhr.onload = () => {
      markSent();
      resolve({ status: xhr.status, body: parseBody(xhr.responseText) });
    };
    xhr.onerror = () => reject(new UploadError("The upload failed: the server could not be reached.", "network"));
    xhr.onabort = () => reject(new UploadError("Upload cancelled.", "aborted"));
    opts.signal?.addEventListener("abort", () => xhr.abort());
    const form = new FormData();
    form.append(opts.field ?? "file", opts.file, opts.filename);
    xhr.send(form);
  });
}
