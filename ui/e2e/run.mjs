// End-to-end check of the web UI in real headless Chromium (Debian's, never downloaded),
// against a running Ronin with a simulated camera. Run by tests/test_ui_e2e.py:
//
//   BASE_URL=http://127.0.0.1:8000 PASSWORD=... SECOND_CAMERA_URL=rtsp://... \
//   ARTIFACTS=dir EXPECT_DETECTIONS=1 node e2e/run.mjs
//
// Steps: log in; a live tile's <video> advances over the WebSocket (MSE); add a second
// camera through Setup (testing its connection first); open Playback for today, click the
// timeline and see the video seek there; the last 25 s across segments as one MP4 plays
// and seeks; see an alert toast and a detection marker (when a model is configured) and
// jump to the marker; visit every page; a phone-width screenshot; with
// WebSockets blocked the live tile falls back to HLS and plays; nothing
// refused by the Content-Security-Policy.
// Saves a screenshot of each page under ARTIFACTS.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const PASSWORD = process.env.PASSWORD ?? "";
const SECOND = process.env.SECOND_CAMERA_URL ?? "";
const ARTIFACTS = process.env.ARTIFACTS ?? "e2e/artifacts";
const EXPECT_DETECTIONS = process.env.EXPECT_DETECTIONS === "1";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

mkdirSync(ARTIFACTS, { recursive: true });
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);

async function until(what, check, timeoutMs, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

/** The first live tile plays through ``path`` (its data-path) and its video advances. */
async function livePlays(page, path) {
  await page.waitForSelector(`[data-testid=live-tile][data-path=${path}] video`, { timeout: 30_000 });
  const first = await until(`the live video to start (${path})`, () =>
    page.$eval("[data-testid=live-tile] video", (v) => (v.currentTime > 0 ? v.currentTime : 0)), 45_000);
  await until(`the live video to advance (${path})`, () =>
    page.$eval("[data-testid=live-tile] video", (v, t) => v.currentTime > t + 1, first), 30_000);
  const shown = await page.$eval("[data-testid=live-tile]", (t) => t.dataset.path);
  if (shown !== path) throw new Error(`the live tile plays through ${shown}, not ${path}`);
  log(`live video advances (${path})`);
}

const context = await chromium.launchPersistentContext(join(ARTIFACTS, `profile-${Date.now()}`), {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1366, height: 860 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"],
});
const page = context.pages()[0] ?? (await context.newPage());
page.on("pageerror", (e) => log("page error:", e.message));
const refused = []; // what the Content-Security-Policy blocked: the UI must need none of it
page.on("console", (m) => m.text().includes("Content Security Policy") && refused.push(m.text()));
const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

try {
  // 1. log in
  await page.goto(BASE);
  await page.fill("input[name=username]", "admin");
  await page.fill("input[name=password]", "wrong password");
  await page.click("button[type=submit]");
  await page.waitForSelector("[role=alert]");
  await shot("login-error");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=nav-live]");
  const loggedInAt = Date.now(); // the demo camera has recorded since before this
  log("logged in");

  // 2. live: the tile plays over the WebSocket (MSE) and its video advances, in the grid
  // the demo camera's 640x360 sub-stream, enlarged its 720p main stream; sound on plays
  // the demo camera's audio (muted by default)
  await livePlays(page, "mse");
  const grid = await page.$eval("[data-testid=live-tile]", (t) => [t.dataset.stream, t.querySelector("video").videoWidth]);
  if (grid[0] !== "sub" || grid[1] !== 640) throw new Error(`the grid plays ${grid}, not the 640-wide sub-stream`);
  await page.locator("[data-testid=live-tile]", { hasText: "Demo" }).first().click();
  await until("the enlarged view to play the main stream", () =>
    page.$eval("[data-testid=live-tile][data-stream=main] video", (v) => v.videoWidth === 1280 && v.currentTime > 0), 30_000);
  log("the grid plays the sub-stream, the enlarged view the main stream");
  if (!(await page.$eval("[data-testid=live-tile] video", (v) => v.muted))) throw new Error("live audio is on by default");
  await page.click("[data-testid=tile-sound]");
  await until("the live audio to play", () =>
    page.$eval("[data-testid=live-tile] video", (v) => !v.muted && v.webkitAudioDecodedByteCount > 0), 15_000);
  log("live audio plays when turned on");
  await page.click("[data-testid=tile-sound]");
  await page.click("text=← Back to the grid");
  await shot("live");

  // 3. setup: add a second camera, testing the connection first
  await page.click("[data-testid=nav-setup]");
  await page.click("text=+ Add camera");
  await page.fill("input[name=name]", "Garage");
  await page.fill("input[name=rtsp_url]", SECOND);
  await page.fill("input[name=group]", "Outside");
  await page.click("text=Test connection");
  await page.waitForSelector("[data-testid=connection-answer]", { timeout: 30_000 });
  const answer = await page.textContent("[data-testid=connection-answer]");
  if (!answer.startsWith("Connected")) throw new Error(`connection test: ${answer}`);
  await shot("setup-add");
  await page.click("form.camera-form button[type=submit]");
  await until("the new camera in the list", async () =>
    (await page.locator("[data-testid=camera-row]", { hasText: "Garage" }).count()) > 0, 30_000);
  log("second camera added");
  await until("the admin in the users table", async () =>
    (await page.locator("[data-testid=user-row]", { hasText: "admin" }).count()) > 0, 10_000);
  await shot("setup");

  // 3a. notifications: add a webhook (its secret shown once), send it a test
  if (process.env.WEBHOOK_URL) {
    await page.click("text=+ Add webhook");
    await page.fill("input[name=webhook_name]", "Porch light");
    await page.fill("input[name=webhook_url]", process.env.WEBHOOK_URL);
    await page.click("form.camera-form button[type=submit]");
    const secret = await page.textContent("[data-testid=webhook-secret]", { timeout: 10_000 });
    if (!secret || secret.length < 30) throw new Error(`no webhook secret shown: ${secret}`);
    console.log(`webhook secret: ${secret}`);
    await page.click("text=Done");
    await until("the webhook in the list", async () =>
      (await page.locator("[data-testid=webhook-row]", { hasText: "Porch light" }).count()) > 0, 10_000);
    await page.locator("[data-testid=webhook-row]", { hasText: "Porch light" }).locator("text=Send a test").click();
    await until("the test delivered", async () =>
      (await page.textContent("[data-testid=webhook-said]"))?.includes("delivered (HTTP 200"), 15_000);
    await shot("notifications");
    log("webhook added and tested");
  }
  // the web push service worker is served and registers under the page's policy
  const worker = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
    return registration.active?.scriptURL ?? registration.installing?.scriptURL ?? null;
  });
  if (!worker?.endsWith("/sw.js")) throw new Error(`the service worker did not register: ${worker}`);
  if (!(await page.locator("text=Notifications on this device").count())) throw new Error("no push section");
  log("the push service worker registers");

  // 3b. zones: draw a zone over the demo camera's live picture, save, find it again (not
  // required for alerts: the alerts below still come from anywhere in the picture)
  const zonesOf = () => page.locator("[data-testid=camera-row]", { hasText: "Demo" }).locator("text=Zones");
  await zonesOf().click();
  await page.click("text=Draw a zone");
  const canvas = await page.waitForSelector("[data-testid=zone-canvas]");
  const area = await canvas.boundingBox();
  for (const [fx, fy] of [[0.2, 0.3], [0.7, 0.3], [0.7, 0.9], [0.2, 0.9]]) {
    await page.mouse.click(area.x + fx * area.width, area.y + fy * area.height);
  }
  await page.click("text=Finish shape");
  await page.fill("[data-testid=zone-item] input >> nth=0", "driveway");
  await page.fill("[data-testid=zone-item] input >> nth=1", "person, car");
  await page.waitForTimeout(1500); // the live picture under the zone
  await shot("zones");
  await page.click("text=Save zones");
  await until("the zone saved", async () => {
    await zonesOf().click();
    const found = await page.locator("[data-testid=zone-item] input >> nth=0").inputValue({ timeout: 5000 }).catch(() => "");
    await page.click("[aria-label=Close]");
    return found === "driveway";
  }, 30_000, 1000);
  log("zone drawn and saved");

  // 4. playback: click the timeline, the video seeks there
  await page.click("[data-testid=nav-playback]");
  await page.waitForSelector(".segment-bar", { timeout: 60_000 });
  const box = await page.locator("[data-testid=timeline]").boundingBox();
  for (let i = 0; i < 14; i++) { // zoom in on the newest footage, keeping it under the pointer
    const bar = await page.locator(".segment-bar").last().boundingBox();
    await page.mouse.move(bar.x + bar.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -100);
    await page.waitForTimeout(100);
  }
  const bars = await page.locator(".segment-bar").evaluateAll((els) =>
    els.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 8).map((r) => ({ x: r.x, w: r.width })));
  if (!bars.length) throw new Error("no segment wide enough to click after zooming");
  const target = bars[Math.floor(bars.length / 2)];
  const x = target.x + target.w * 0.6;
  const view = await page.$eval("[data-testid=timeline]", (el) => ({
    start: Number(el.dataset.viewStart), end: Number(el.dataset.viewEnd), left: el.getBoundingClientRect().left, width: el.clientWidth,
  }));
  const expected = view.start + ((x - view.left) / view.width) * (view.end - view.start);
  await page.mouse.click(x, box.y + box.height / 2);
  const landed = await until("the video to seek", () =>
    page.$eval("[data-testid=playback-video]", (v) =>
      v.readyState >= 2 && v.dataset.segmentStart ? Number(v.dataset.segmentStart) + v.currentTime * 1000 : 0), 30_000);
  if (Math.abs(landed - expected) > 3000) throw new Error(`seeked to ${landed}, expected about ${expected}`);
  log(`seeked within ${Math.round(Math.abs(landed - expected))} ms of the click`);
  // one file across segments: playback passes the clicked segment's end without a reload
  const src = await page.$eval("[data-testid=playback-video]", (v) => v.currentSrc);
  const segmentEnd = view.start + ((target.x + target.w - view.left) / view.width) * (view.end - view.start);
  await until("playback to pass into the next segment", () =>
    page.$eval("[data-testid=playback-video]", (v, end) =>
      Number(v.dataset.segmentStart) + v.currentTime * 1000 > end + 1000, segmentEnd), 20_000);
  if ((await page.$eval("[data-testid=playback-video]", (v) => v.currentSrc)) !== src) throw new Error("the player reloaded at a segment's end");
  log("playback went on into the next segment in the same file");
  await until("the segment being written on the timeline", async () =>
    (await page.locator(".segment-bar.open").count()) > 0, 30_000);
  await shot("playback");

  // 4b. any range as one MP4: the last 25 s (three 10-s segments, the open one included)
  // plays and seeks in the browser
  const seekedTo = await page.evaluate(async () => {
    const headers = { Authorization: `Bearer ${localStorage.getItem("ronin.token")}`, "Content-Type": "application/json" };
    const cameras = await (await fetch("/api/cameras", { headers })).json();
    const demo = cameras.find((c) => c.name === "Demo") ?? cameras[0];
    const path = `/api/cameras/${demo.camera_id}/footage.mp4`;
    const media = await (await fetch("/api/auth/media-token", { method: "POST", headers, body: JSON.stringify({ path }) })).json();
    const end = new Date(Date.now() - 2000), start = new Date(end.getTime() - 25_000);
    const video = document.createElement("video");
    video.muted = true;
    video.src = `${path}?start=${start.toISOString()}&end=${end.toISOString()}&token=${media.access_token}`;
    await new Promise((ok, no) => { video.onloadedmetadata = ok; video.onerror = () => no(new Error(`footage: ${video.error?.message}`)); });
    if (!(video.duration > 8 && video.duration < 27)) throw new Error(`footage lasts ${video.duration} s, not up to 25`);
    video.currentTime = video.duration - 3;
    await new Promise((ok) => { video.onseeked = ok; });
    return { at: video.currentTime, duration: video.duration };
  });
  if (Math.abs(seekedTo.at - (seekedTo.duration - 3)) > 1.5) throw new Error(`footage seeked to ${seekedTo.at}`);
  log(`a 25-s range across segments plays as one MP4 (${seekedTo.duration.toFixed(1)} s) and seeks`);

  // 5. detections: an alert toast, then a tracked object (or a marker) on the timeline
  // that jumps there
  if (EXPECT_DETECTIONS) {
    await page.waitForSelector("[data-testid=alert-toast]", { timeout: 150_000 });
    log("alert toast shown");
    await shot("alert-toast");
    const marker = await until("a track or detection marker", async () => {
      const m = page.locator("[data-testid=track], [data-testid=marker]");
      return (await m.count()) > 0 ? m : null;
    }, 150_000, 2000);
    const label = await marker.first().getAttribute("data-label");
    await marker.first().click();
    await until("the video to play the marker's moment", () =>
      page.$eval("[data-testid=playback-video]", (v) => v.readyState >= 2), 30_000);
    log(`${await marker.first().getAttribute("data-testid")} ${label} clicked`);
    await shot("playback-marker");

    // 5b. review: the item is there; open it in Playback, then mark it reviewed
    await page.click("[data-testid=nav-review]");
    const items = await until("a review item", async () => {
      const found = page.locator("[data-testid=review-item]");
      return (await found.count()) > 0 ? found : null;
    }, 60_000, 2000);
    await until("the item's thumbnail, cut from the recording", () =>
      page.$eval("[data-testid=review-item] img", (img) => img.complete && img.naturalWidth > 0)
        .catch(() => false), 30_000);
    log("review thumbnail shown");
    await shot("review");
    await items.first().locator("text=Play").click();
    await until("Playback at the item's moment", () =>
      page.$eval("[data-testid=playback-video]", (v) => v.readyState >= 2), 30_000);
    log("review item opened in Playback");
    await page.click("[data-testid=nav-review]");
    const first = page.locator("[data-testid=review-item]").first();
    await first.waitFor({ timeout: 30_000 });
    const reviewed = page.locator(`[data-item="${await first.getAttribute("data-item")}"]`);
    await reviewed.locator("text=Reviewed").click();
    await until("the item to leave the not-reviewed list", async () =>
      (await reviewed.count()) === 0, 15_000);
    log("review item marked reviewed");
  }

  // 6. every other page, and a phone-width screen
  await page.click("[data-testid=nav-detections]");
  await page.waitForSelector("text=Jobs");
  await page.waitForTimeout(1500);
  await shot("detections");
  await page.click("[data-testid=nav-status]");
  await page.waitForSelector("text=Disk");
  await page.waitForTimeout(1500);
  await shot("status");
  if (await page.locator("text=[object Object]").count()) throw new Error("raw objects on screen");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click("[data-testid=nav-live]");
  await page.waitForSelector("[data-testid=live-tile] video");
  await page.waitForTimeout(2000);
  await shot("live-phone");

  // 6b. from the enlarged live view, "30 s back" opens Playback at that moment
  await page.setViewportSize({ width: 1366, height: 860 });
  await page.waitForTimeout(Math.max(0, loggedInAt + 35_000 - Date.now())); // 30 s recorded
  await page.locator("[data-testid=live-tile]", { hasText: "Demo" }).first().click();
  const asked = Date.now() - 30_000;
  await page.click("[data-testid=rewind-30]");
  const rewound = await until("Playback 30 s back", () =>
    page.$eval("[data-testid=playback-video]", (v) =>
      v.readyState >= 2 && v.dataset.segmentStart ? Number(v.dataset.segmentStart) + v.currentTime * 1000 : 0), 30_000);
  if (Math.abs(rewound - asked) > 3000) throw new Error(`30 s back played ${(asked - rewound) / 1000} s off`);
  log("30 s back opens Playback at that moment");
  await page.click("[data-testid=nav-live]");

  // 6c. where the WebSocket path is unavailable, the tile falls back to HLS by itself
  await page.addInitScript(() => {
    window.WebSocket = class {
      constructor() {
        throw new Error("WebSockets are blocked here");
      }
    };
  });
  await page.reload();
  await livePlays(page, "hls");

  // 7. session expiry sends you back to the login page
  await page.evaluate(() => localStorage.setItem("ronin.token", "expired.eyJleHAiOjF9.x"));
  await page.reload();
  await page.waitForSelector("input[name=password]");
  log("an expired session shows the login page");
  if (refused.length) throw new Error(`the CSP refused: ${refused.join("; ")}`);
  log("all steps passed");
} catch (e) {
  await shot("failure").catch(() => {});
  console.error("E2E FAILED:", e.message);
  process.exitCode = 1;
} finally {
  await context.close();
}
