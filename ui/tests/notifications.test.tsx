// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Api } from "../src/api";
import { Notifications, mqttState } from "../src/setup/Notifications";
import { describeRule, formOf, ruleOf } from "../src/setup/webhookRule";
import type { Camera, StatusReport, Webhook } from "../src/types";

afterEach(cleanup);

const DOOR = { camera_id: "c1", name: "Door" } as Camera;
const HOOK: Webhook = {
  webhook_id: "w1", name: "Porch light", url: "https://hooks.example/porch", enabled: true, updated_at: "2026-12-03T14:00:00Z",
  rule: { cameras: ["c1"], labels: ["person"], zones: ["porch"], severity: "alert" },
};
const status = (detail: string | null): StatusReport =>
  ({ components: detail === null ? [] : [{ name: "worker:mqtt", ok: true, detail }] }) as unknown as StatusReport;

describe("webhook rules", () => {
  it("round-trips through the form and reads as a sentence", () => {
    const form = { cameras: ["c1"], labels: "person, car, person", zones: "", severity: "any" as const };
    const rule = ruleOf(form);
    expect(rule).toEqual({ cameras: ["c1"], labels: ["person", "car"], zones: [], severity: null });
    expect(ruleOf(formOf(rule))).toEqual(rule);
    expect(describeRule(HOOK.rule, [DOOR])).toBe("alert items of person in porch on Door");
    expect(describeRule({ ...rule, cameras: [] }, [DOOR])).toBe("every item of person, car on every camera");
  });

  it("says what MQTT is doing", () => {
    expect(mqttState(status(null))).toMatch(/^off/);
    expect(mqttState(status("broker=connected, published=3"))).toBe("connected to the broker");
    expect(mqttState(status("broker=unreachable, published=0"))).toMatch(/unreachable/);
  });
});

describe("the Notifications section", () => {
  it("lists webhooks and sends a test", async () => {
    const get = vi.fn(async (path: string) => (path === "/api/webhooks" ? [HOOK] : status("broker=connected")));
    const post = vi.fn(async () => ({ ok: true, reason: "HTTP 200 OK" }));
    render(<Notifications api={{ get, post, delete: vi.fn() } as unknown as Api} cameras={[DOOR]} />);
    await waitFor(() => expect(screen.getByTestId("webhook-row").textContent).toContain("alert items of person in porch on Door"));
    expect(screen.getByTestId("mqtt-state").textContent).toContain("connected to the broker");
    fireEvent.click(screen.getByText("Send a test"));
    await waitFor(() => expect(screen.getByTestId("webhook-said").textContent).toBe("Porch light: delivered (HTTP 200 OK)"));
    expect(post).toHaveBeenCalledWith("/api/webhooks/w1/test");
  });
});
