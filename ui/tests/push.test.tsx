// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { keyBytes, pushUnsupported, subscriptionBody } from "../src/push/subscribe";
import { PushDevices } from "../src/setup/PushDevices";
import { NEW_PUSH, describePush, pushRuleOf } from "../src/setup/webhookRule";
import type { Camera, PushDevice } from "../src/types";

afterEach(cleanup);

describe("web push, in the browser", () => {
  it("decodes the VAPID key and sends the browser's keys with the rule", () => {
    expect([...keyBytes("AQID_w")]).toEqual([1, 2, 3, 255]);
    const rule = pushRuleOf({ ...NEW_PUSH, labels: "person", quiet_from: "22:00", quiet_until: "07:00" }, "Europe/Paris");
    expect(rule).toMatchObject({ labels: ["person"], severity: "alert", quiet_from: "22:00", timezone: "Europe/Paris", cooldown_s: 60 });
    expect(pushRuleOf({ ...NEW_PUSH, quiet_from: "22:00" }, "UTC").quiet_from).toBeNull(); // both or none
    const body = subscriptionBody({ endpoint: "https://push.example/x", keys: { p256dh: "P", auth: "A" } }, rule);
    expect(body).toEqual({ endpoint: "https://push.example/x", keys: { p256dh: "P", auth: "A" }, rule });
    expect(() => subscriptionBody({ endpoint: "https://push.example/x" }, rule)).toThrow(/incomplete/);
    expect(describePush(rule, [])).toBe("alert items of person on every camera, quiet 22:00-07:00");
  });

  it("says when a page cannot take pushes", () => {
    expect(pushUnsupported({ isSecureContext: false })).toMatch(/HTTPS/);
    expect(pushUnsupported({ isSecureContext: true, navigator: {} as Navigator })).toMatch(/no web push/);
  });

  it("lists this user's devices and sends one a test", async () => {
    const device: PushDevice = {
      subscription_id: "s1", endpoint: "https://fcm.googleapis.com/fcm/send/abc", updated_at: "2026-12-03T14:00:00Z",
      rule: { ...pushRuleOf(NEW_PUSH, "UTC"), quiet_from: "22:00", quiet_until: "07:00" },
    };
    const post = vi.fn(async () => ({ reason: "the push service answered 201" }));
    const api = { get: vi.fn(async () => [device]), post, delete: vi.fn() } as unknown as Api;
    render(<PushDevices api={api} cameras={[] as Camera[]} timezone="UTC" />);
    await waitFor(() => expect(screen.getByTestId("push-device").textContent).toContain("fcm.googleapis.com"));
    expect(screen.getByTestId("push-device").textContent).toContain("quiet 22:00-07:00");
    fireEvent.click(screen.getByText("Send a test"));
    await waitFor(() => expect(screen.getByTestId("push-said").textContent).toBe("the push service answered 201"));
    expect(post).toHaveBeenCalledWith("/api/push/subscriptions/s1/test");
  });
});
