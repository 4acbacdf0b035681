import type { RetentionTiers } from "../types";

/** A camera's retention limits: continuous footage, and how long footage with review
 * items (alerts, other detections) is kept; empty fields take the server's defaults. */
export interface RetentionForm {
  retention_days: string;
  retention_max_gb: string;
  alert_days: string;
  detection_days: string;
}

type Change = (k: keyof RetentionForm) => (e: { target: { value: string } }) => void;

const FIELDS: { key: keyof RetentionForm; label: string; placeholder: string }[] = [
  { key: "retention_days", label: "Keep days", placeholder: "default" },
  { key: "retention_max_gb", label: "Max GB", placeholder: "none" },
  { key: "alert_days", label: "Keep alerts days", placeholder: "default" },
  { key: "detection_days", label: "Keep detections days", placeholder: "default" },
];

export function RetentionFields({ form, set }: { form: RetentionForm; set: Change }) {
  return (
    <div className="row">
      {FIELDS.map((f) => (
        <label key={f.key}>
          {f.label}
          <input name={f.key} type="number" min="0.1" step="0.1" value={form[f.key]} onChange={set(f.key)} placeholder={f.placeholder} />
        </label>
      ))}
    </div>
  );
}

const number = (v: string) => (v ? Number(v) : null);

/** The API's retention fields from the form, keeping tier budgets it does not show. */
export function retentionBody(form: RetentionForm, tiers: RetentionTiers | null) {
  const rest = { ...(tiers ?? {}), alert_days: number(form.alert_days), detection_days: number(form.detection_days) };
  const any = Object.values(rest).some((v) => v !== null && v !== undefined);
  return {
    retention_days: number(form.retention_days),
    retention_max_gb: number(form.retention_max_gb),
    retention_tiers: any ? rest : null,
  };
}
