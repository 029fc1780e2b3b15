// Shapes of the MedForge API's answers (docs/api.md). Only the fields the web uses are typed.

export interface Meta {
  request_id: string;
  api_version: string;
  timestamp: string;
  limit?: number;
  next_cursor?: string | null;
  has_more?: boolean;
}

export interface Envelope<T> {
  data: T;
  meta: Meta;
}

export type Role = "user" | "admin";

export interface Me {
  user_id: string;
  email: string;
  display_name: string;
  role: Role;
  max_concurrent_sessions: number;
}

export interface CompetitionSummary {
  slug: string;
  title: string;
  metric: string;
  higher_is_better: boolean;
  submission_cap_per_day: number;
  dataset_slug: string;
  status: string;
}

export interface CompetitionDetail extends CompetitionSummary {
  description: string;
  dataset: { slug: string; title: string } | null;
  metric_version: string;
  scoring_mode: string;
  leaderboard_rule: string;
  evaluation_policy: string;
  created_at: string;
  updated_at: string;
  remaining_today?: number;
  cap_resets_at?: string;
}

export interface OfficialScore {
  primary_score: number;
  components: Record<string, number>;
  metric: string;
  metric_version: string;
  evaluation_split_version: string;
  scorer_version: string;
  manifest_sha256: string;
  created_at: string;
}

export type SubmissionStatus = "queued" | "scoring" | "scored" | "failed";

export interface Submission {
  id: string;
  competition_slug: string;
  user_id: string;
  filename: string;
  status: SubmissionStatus;
  error: string | null;
  row_count: number | null;
  created_at: string;
  scored_at: string | null;
  official_score: OfficialScore | null;
  attempts?: number;
  lease_owner?: string | null;
  lease_expires_at?: string | null;
  counts_toward_cap?: boolean;
}

export interface SubmissionCreated {
  submission: Submission;
  daily_cap: number;
  remaining_today: number;
}

export interface LeaderboardEntry {
  rank: number;
  user_id: string;
  display_name: string;
  best_submission_id: string;
  primary_score: number;
  scored_at: string;
  submission_count: number;
}

export interface Leaderboard {
  competition_slug: string;
  entries: LeaderboardEntry[];
}

export interface HistorySeries {
  user_id: string;
  display_name: string;
  points: { scored_at: string; best_score: number }[];
}

export interface DatasetSummary {
  slug: string;
  title: string;
  source: string;
}

export interface FileEntry {
  name: string;
  size: number;
  type: "file" | "dir";
}

export interface DatasetDetail extends DatasetSummary {
  license: string;
  bytes: number;
  checksum: string;
  files: FileEntry[];
  files_truncated: boolean;
}

export interface FolderListing {
  path: string;
  entries: FileEntry[];
}

export type SessionStatus = "starting" | "running" | "stopping" | "stopped" | "error";

export interface Session {
  id: string;
  user_id: string;
  tier: string;
  pack_id: string;
  status: SessionStatus;
  gpu_id: number | null;
  slug: string;
  url: string;
  workspace: string;
  created_at: string;
  started_at: string | null;
  stopped_at: string | null;
  error_message: string | null;
}

export interface SessionEvent {
  id: number;
  at: string;
  kind: string;
  message: string;
}

export interface AccessToken {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  token?: string;
}

export interface AdminUser {
  user_id: string;
  email: string;
  display_name: string;
  role: Role;
  max_concurrent_sessions: number;
  active_sessions: number;
  created_at: string;
}

export interface Gpu {
  id: number;
  name: string;
  uuid: string | null;
  enabled: boolean;
  session_id: string | null;
}

/** A GPU on the host dashboard: the inventory row plus live figures (null unless nvidia-smi gave them). */
export interface HostGpu extends Gpu {
  utilization_percent: number | null;
  memory_used_mib: number | null;
  memory_total_mib: number | null;
  temperature_c: number | null;
}

export interface HostDisk {
  name: "workspaces" | "submissions";
  path: string | null;
  total_bytes: number | null;
  free_bytes: number | null;
  available_bytes: number | null;
  error: string | null;
}

/** GET /api/v1/status (admin): see docs/api.md, "Host dashboard". */
export interface HostStatus {
  generated_at: string;
  gpu_discovery: "static" | "nvidia-smi";
  /** "ok", "absent" or "failed: <reason>" */
  nvidia_smi: string;
  gpus: HostGpu[] | null;
  host: {
    cpu_count: number;
    load_1m: number | null;
    load_5m: number | null;
    load_15m: number | null;
    memory_total_bytes: number | null;
    memory_available_bytes: number | null;
    process: { pid: number; rss_bytes: number | null; started_at: string; uptime_seconds: number; version: string };
    disks: HostDisk[];
  };
  pools: {
    database: { size: number; in_use: number };
    blocking: { threads: number; queue_max: number; queued: number | null };
    health: { status: "ready" | "not_ready"; checks: Record<string, string> };
  };
  counts: {
    sessions: Record<string, number>;
    users: { total: number; admins: number };
    competitions: Record<string, number>;
    submissions: Record<string, number>;
    datasets: number;
  } | null;
}

export const ACTIVE_SESSION_STATUSES: readonly SessionStatus[] = ["starting", "running", "stopping"];
export const TERMINAL_SESSION_STATUSES: readonly SessionStatus[] = ["stopped", "error"];

export function isActiveSession(status: string): boolean {
  return (ACTIVE_SESSION_STATUSES as readonly string[]).includes(status);
}

export function isPendingSubmission(status: string): boolean {
  return status === "queued" || status === "scoring";
}
