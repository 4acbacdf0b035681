// Shapes of the API's answers (see /docs on a running Ronin).

export interface Camera {
  camera_id: string;
  name: string;
  directory: string;
  /** The stream addresses go to admins only (null for viewers). */
  rtsp_url: string | null;
  sub_rtsp_url: string | null;
  /** Whether it has a low-resolution second stream (the grid and live detection use it). */
  has_sub_stream: boolean;
  has_credentials: boolean;
  group: string | null;
  position: number;
  enabled: boolean;
  detection_enabled: boolean;
  status: string;
  last_error: string | null;
  status_changed_at: string | null;
  retention_days: number | null;
  retention_max_gb: number | null;
  retention_tiers: RetentionTiers | null;
}

/** Longer limits for footage with review items; null fields take the defaults. */
export interface RetentionTiers {
  alert_days: number | null;
  alert_max_gb: number | null;
  detection_days: number | null;
  detection_max_gb: number | null;
  continuous_max_gb: number | null;
}

export interface StreamAnswer {
  ok: boolean;
  reason: string;
  video_codec: string | null;
  width: number | null;
  height: number | null;
  audio_codec: string | null;
}

/** The main stream's answer; ``ok`` only when the sub-stream (if given) opened too. */
export interface ConnectionAnswer extends StreamAnswer {
  sub_stream: StreamAnswer | null;
}

export interface Segment {
  segment_id: string;
  start: string;
  end: string;
  duration_s: number;
  bytes: number;
  video_codec: string;
  width: number;
  height: number;
  recovered: boolean;
  /** Still being written: ``end`` is how far it is written now. */
  open?: boolean;
}

export interface Marker {
  label: string;
  start: string;
  end: string;
  count: number;
  max_confidence: number;
}

export interface DayTimeline {
  camera_id: string;
  day: string;
  timezone: string;
  start: string;
  end: string;
  segments: Segment[];
  gaps: { start: string; end: string }[];
  model_id: string | null;
  markers: Marker[];
  tracks: TrackBar[];
  motion?: { start: string; end: string; peak: number }[];
}

export interface TrackBar {
  track_id: string;
  label: string;
  start: string;
  end: string;
  stationary: boolean;
}

export interface ExportJob {
  export_id: string;
  camera_id: string;
  state: "pending" | "running" | "done" | "failed";
  progress: number;
  error: string | null;
  download_url: string | null;
}

export interface CameraStorage {
  camera_id: string;
  name: string | null;
  status: string | null;
  last_error: string | null;
  segments: number;
  bytes: number;
  oldest: string | null;
  newest: string | null;
  days_kept: number;
}

export interface StatusReport {
  cameras: CameraStorage[];
  recordings_bytes: number;
  disk: { total_bytes: number; used_bytes: number; free_bytes: number };
  components: { name: string; ok: boolean; detail: string }[];
  consumer_groups: { topic: string; group: string; lag: number | null; pending: number }[];
  given_up: { topic: string; count: number; group: string; reason: string }[];
}

export interface MlStatus {
  detection: string;
  hint: string | null;
  model_id: string | null;
  layout: string | null;
  providers: string[];
  live: boolean;
  jobs: { pending: number; running: number; done: number; failed: number; retrying: number };
  running: { job_id: string; segment_id: string; camera_id: string; progress: number; frames_analysed: number }[];
  frames_analysed: number;
  frames_skipped: number;
  inference_ms_per_frame: number | null;
  live_cameras: { camera_id: string; fps: number; frames: number; skipped: number }[];
}

export interface Detection {
  detection_id: string;
  camera_id: string;
  segment_id: string | null;
  model_id: string;
  detected_at: string;
  label: string;
  confidence: number;
  live: boolean;
}

export interface Alert {
  alert_id: string;
  camera_id: string;
  label: string;
  confidence: number;
  detected_at: string;
  snapshot_url: string | null;
}

export interface HourlyDetections {
  hour: string;
  label: string;
  count: number;
}

export interface DailyStorage {
  day: string;
  camera_id: string;
  bytes: number;
  segments: number;
}

export type Role = "admin" | "viewer";

export interface Me {
  username: string;
  role: Role;
  is_admin: boolean;
}

export interface UserRow {
  username: string;
  role: Role;
  /** The cameras a viewer may see; null: every camera. */
  cameras: string[] | null;
}

export type Point = [number, number];

export interface Zone {
  name: string;
  points: Point[];
  labels: string[];
  inertia: number;
  loitering_s: number;
}

export interface ZoneConfig {
  zones: Zone[];
  required_zones: string[];
  motion_masks: Point[][];
  object_masks: Point[][];
}

export interface ReviewItem {
  item_id: string;
  camera_id: string;
  start: string;
  end: string;
  labels: string[];
  zones: string[];
  severity: "alert" | "detection";
  tracks: number;
  best_detection_id: string;
  best_at: string;
  thumbnail_url: string;
  preview: { segment_id: string; start_s: number; end_s: number } | null;
  reviewed: boolean;
}

export interface NotificationRule {
  cameras: string[];
  labels: string[];
  zones: string[];
  /** "alert" / "detection" items only, or null: both. */
  severity: "alert" | "detection" | null;
}

export interface Webhook {
  webhook_id: string;
  name: string;
  url: string;
  rule: NotificationRule;
  enabled: boolean;
  updated_at: string;
}

export interface WebhookDelivery {
  delivery_id: string;
  item_id: string | null;
  delivered: boolean;
  attempts: number;
  status_code: number | null;
  reason: string | null;
  at: string;
}

export interface PushRule extends NotificationRule {
  quiet_from: string | null;
  quiet_until: string | null;
  timezone: string;
  cooldown_s: number;
}

export interface PushDevice {
  subscription_id: string;
  endpoint: string;
  rule: PushRule;
  updated_at: string;
}
