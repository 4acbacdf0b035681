// Subscribing this browser to web push: the pure parts (key decoding, what is sent to
// the API) and the browser glue (service worker, permission, PushManager).
import type { Api } from "../api";
import type { PushRule } from "../types";

/** A base64url VAPID key as the bytes ``applicationServerKey`` wants. */
export function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  const text = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The API's body for a browser subscription (``PushSubscription.toJSON()``) and a rule. */
export function subscriptionBody(sub: { endpoint?: string; keys?: Record<string, string> }, rule: PushRule) {
  if (!sub.endpoint || !sub.keys?.p256dh || !sub.keys?.auth) throw new Error("the browser gave an incomplete subscription");
  return { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth }, rule };
}

/** Why this browser cannot take pushes, or null when it can. */
export function pushUnsupported(w: { isSecureContext?: boolean; navigator?: Navigator } & Partial<typeof globalThis>): string | null {
  if (!w.isSecureContext) return "web push needs HTTPS (or localhost)";
  if (!w.navigator || !("serviceWorker" in w.navigator) || !("PushManager" in w)) return "this browser has no web push";
  return null;
}

/** Ask for permission, register the service worker, subscribe, and save it with ``rule``. */
export async function subscribeThisBrowser(api: Api, rule: PushRule): Promise<void> {
  if ((await Notification.requestPermission()) !== "granted") throw new Error("notifications are blocked for this site");
  const registration = await navigator.serviceWorker.register("/sw.js");
  const { public_key } = await api.get<{ public_key: string }>("/api/push/key");
  const sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(public_key) });
  await api.post("/api/push/subscriptions", subscriptionBody(sub.toJSON(), rule));
}
