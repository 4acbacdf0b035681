// A webhook's rule as the form edits it and as the list describes it (pure).
import type { Camera, NotificationRule, PushRule } from "../types";

export interface RuleForm {
  cameras: string[];
  labels: string;
  zones: string;
  severity: "alert" | "detection" | "any";
}

const words = (text: string) => [...new Set(text.split(",").map((w) => w.trim()).filter(Boolean))];

export function ruleOf(form: RuleForm): NotificationRule {
  return {
    cameras: form.cameras, labels: words(form.labels), zones: words(form.zones),
    severity: form.severity === "any" ? null : form.severity,
  };
}

export function formOf(rule: NotificationRule): RuleForm {
  return {
    cameras: rule.cameras, labels: rule.labels.join(", "), zones: rule.zones.join(", "),
    severity: rule.severity ?? "any",
  };
}

/** "alert items of person, car in porch on Door, Yard" */
export function describeRule(rule: NotificationRule, cameras: Camera[]): string {
  const kind = rule.severity === null ? "every item" : `${rule.severity} items`;
  const labels = rule.labels.length ? ` of ${rule.labels.join(", ")}` : "";
  const zones = rule.zones.length ? ` in ${rule.zones.join(", ")}` : "";
  const names = cameras.filter((c) => rule.cameras.includes(c.camera_id)).map((c) => c.name);
  const where = rule.cameras.length ? ` on ${names.join(", ") || "removed cameras"}` : " on every camera";
  return `${kind}${labels}${zones}${where}`;
}

export interface PushForm extends RuleForm {
  quiet_from: string;
  quiet_until: string;
  cooldown_s: string;
}

export const NEW_PUSH: PushForm = { cameras: [], labels: "", zones: "", severity: "alert", quiet_from: "", quiet_until: "", cooldown_s: "60" };

/** A push rule from the form, in this browser's time zone. */
export function pushRuleOf(form: PushForm, timezone: string): PushRule {
  const quiet = form.quiet_from && form.quiet_until;
  return {
    ...ruleOf(form), quiet_from: quiet ? form.quiet_from : null, quiet_until: quiet ? form.quiet_until : null,
    timezone, cooldown_s: Math.max(0, Math.round(Number(form.cooldown_s) || 0)),
  };
}

/** "alert items on every camera, quiet 22:00-07:00" */
export function describePush(rule: PushRule, cameras: Camera[]): string {
  const quiet = rule.quiet_from && rule.quiet_until ? `, quiet ${rule.quiet_from}-${rule.quiet_until}` : "";
  return `${describeRule(rule, cameras)}${quiet}`;
}
