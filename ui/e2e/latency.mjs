// Glass-to-browser latency of the live view in real headless Chromium (Debian's): the
// simulated camera burns the wall-clock time into each frame as 40 squares (tenths of a
// second; ingest/simcam/timecode.py); for each sample, the frame the browser presents is
// drawn to a canvas, its time read, and compared with the wall clock at presentation.
// Run by bench/live_latency_bench.py:
//
//   BASE_URL=... PASSWORD=... LIVE_PATH=mse|hls VIEWERS=1 SAMPLES=20 node e2e/latency.mjs
//
// Prints one JSON line: {"path": ..., "viewers": ..., "latencies": [seconds, ...]}.

import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const PASSWORD = process.env.PASSWORD ?? "";
const PATH = process.env.LIVE_PATH ?? "mse";
const VIEWERS = Number(process.env.VIEWERS ?? 1);
const SAMPLES = Number(process.env.SAMPLES ?? 20);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Each viewer is a browser context of its own (its own connections, as separate people
// watching: a browser allows six HTTP/1.1 connections per host, across its tabs).
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--disable-background-timer-throttling",
         "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"],
});

/** The burned-in time (ms since the epoch) of the frame a <video> presents, and the
 * wall-clock time it was presented at. */
function sampleInPage() {
  const video = document.querySelector("[data-testid=live-tile] video");
  return new Promise((resolve, reject) => {
    if (!video || !video.requestVideoFrameCallback) return reject(new Error("no video"));
    const timer = setTimeout(() => reject(new Error("no frame presented in 5 s")), 5000);
    video.requestVideoFrameCallback((_now, meta) => {
      clearTimeout(timer);
      const shownAt = performance.timeOrigin + meta.expectedDisplayTime;
      const w = video.videoWidth, h = video.videoHeight;
      const canvas = new OffscreenCanvas(w, h);
      const g = canvas.getContext("2d", { willReadFrequently: true });
      g.drawImage(video, 0, 0, w, h);
      const s = Math.max(8, Math.floor(w / 32));
      const pixels = g.getImageData(0, 0, w, Math.min(h, 4 * s)).data;
      let code = 0;
      for (let i = 0; i < 40; i++) {
        const y0 = s + Math.floor(i / 20) * s + Math.floor(s / 4);
        const x0 = s + (i % 20) * s + Math.floor(s / 4);
        let sum = 0, n = 0;
        for (let y = y0; y < y0 + Math.floor(s / 2); y++) {
          for (let x = x0; x < x0 + Math.floor(s / 2); x++) {
            const at = (y * w + x) * 4;
            sum += 0.299 * pixels[at] + 0.587 * pixels[at + 1] + 0.114 * pixels[at + 2];
            n++;
          }
        }
        code = code * 2 + (sum / n > 128 ? 1 : 0);
      }
      resolve({ captured: code * 100 + 50, shownAt, path: video.closest("[data-path]")?.dataset.path });
    });
  });
}

try {
  const pages = [];
  for (let i = 0; i < VIEWERS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(BASE);
    await page.evaluate((path) => localStorage.setItem("ronin.livePath", path), PATH);
    await page.fill("input[name=username]", "admin");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForSelector("[data-testid=live-tile] video", { timeout: 30_000 });
    pages.push(page);
  }
  const page = pages[0];
  await page.waitForFunction(() => document.querySelector("[data-testid=live-tile] video")?.currentTime > 2, null, { timeout: 60_000 });
  await page.waitForTimeout(3000); // past the start-up
  const latencies = [];
  let path = null;
  while (latencies.length < SAMPLES) {
    const s = await page.evaluate(sampleInPage);
    path = s.path;
    const latency = (s.shownAt - s.captured) / 1000;
    if (latency > -1 && latency < 60) latencies.push(Number(latency.toFixed(3)));
    await page.waitForTimeout(400);
  }
  console.log(JSON.stringify({ path, viewers: VIEWERS, latencies }));
} finally {
  await browser.close();
}
