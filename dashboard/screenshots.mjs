// Dev check: starts the dev server, drives Debian's Chromium (playwright-core) through every page, saves
// screenshots under test-artifacts/dashboard/, and measures render times for 100 nodes and 100,000 tasks.
// Usage: node dashboard/build.mjs && node dashboard/screenshots.mjs

import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "test-artifacts", "dashboard");
mkdirSync(outDir, { recursive: true });
const port = 18000 + Math.floor(Math.random() * 1000);
const origin = `http://127.0.0.1:${port}`;
const bigJob = "j-3fa9c0e1";
const denseJob = "j-d3a5e000";

const server = spawn(process.execPath, [join(here, "dev-server.mjs"), "--port", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", (chunk) => String(chunk).includes("dev server on") && resolve());
  server.on("exit", (code) => reject(new Error(`dev server exited ${code}`)));
  setTimeout(() => reject(new Error("dev server did not start in 30 s")), 30_000);
});

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const problems = [];
const timings = {};

async function newPage(colorScheme) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on("console", (message) => message.type() === "error" && !message.text().includes("404") && problems.push(`console: ${message.text()}`));
  // The one expected 404: the job log view asks once for /api/jobs/:id/logs (not in the agreed API) and falls back.
  page.on("response", (response) => response.status() >= 400 && !/\/api\/jobs\/[^/]+\/logs$/.test(new URL(response.url()).pathname) && problems.push(`HTTP ${response.status()} ${response.url()}`));
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("request", (request) => !request.url().startsWith(origin) && !request.url().startsWith("data:") && !request.url().startsWith("blob:") && problems.push(`external request: ${request.url()}`));
  return { context, page };
}

async function shot(page, name) {
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(outDir, `${name}.png`) });
  console.log(`screenshot ${name}.png`);
}

async function signIn(page) {
  await page.goto(`${origin}/`);
  await page.waitForURL(`${origin}/login`);
  await page.fill("#token", "dev");
  await Promise.all([page.waitForURL(`${origin}/`), page.click("button[type=submit]")]);
  await page.waitForSelector(".stat");
}

/** Time from a hash change to a condition holding, after the next frame (no eval in the page: it runs under CSP). */
async function timeRoute(page, hash, condition, argument = null) {
  await page.evaluate((hash) => {
    window.shoalTimingStart = performance.now();
    window.location.hash = hash;
  }, hash);
  await page.waitForFunction(condition, argument, { polling: "raf", timeout: 60_000 });
  return page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now() - window.shoalTimingStart))));
}

try {
  const { context, page } = await newPage("light");
  await page.goto(`${origin}/login`);
  await shot(page, "login");
  await page.fill("#token", "wrong");
  await Promise.all([page.waitForURL(`${origin}/login?error=1`), page.click("button[type=submit]")]);
  await shot(page, "login-wrong-token");
  await signIn(page);
  await page.waitForSelector(".chart canvas");
  await page.waitForTimeout(2500);
  await shot(page, "overview");

  // Nodes: from the overview to a table of 100 nodes with sparklines on screen.
  timings.nodesTableFirstRenderMs = await timeRoute(page, "#/nodes", () => document.querySelectorAll(".vt tbody tr.row canvas.spark").length >= 10);
  timings.nodesRowsInDom = await page.evaluate(() => document.querySelectorAll(".vt tbody tr.row").length);
  await page.waitForTimeout(3000);
  timings.nodesLiveUpdateMs = await page.evaluate(() => {
    const entries = performance.getEntriesByName("shoal:nodes-render").map((entry) => entry.duration);
    return { count: entries.length, medianMs: entries.sort((a, b) => a - b)[Math.floor(entries.length / 2)], maxMs: Math.max(...entries) };
  });
  await shot(page, "nodes");
  await page.click(".vt tbody tr.row:nth-child(3) a");
  await page.waitForSelector(".chart canvas");
  await page.setViewportSize({ width: 1440, height: 1500 });
  await page.waitForTimeout(1500);
  await shot(page, "node-detail");
  await page.setViewportSize({ width: 1440, height: 900 });

  await page.goto(`${origin}/#/jobs`);
  await page.waitForSelector(".vt tbody tr.row");
  await shot(page, "jobs");

  // Task stream, cold: fetch 100,000 tasks (17 MB JSON), index them, first draw.
  const streamDrawn = (jobId) => {
    const canvas = document.querySelector(".stream-canvas");
    return (canvas?.getAttribute("aria-label") ?? "").includes(`${jobId}:`) && Number(canvas.dataset.draws ?? 0) >= 1 && !document.querySelector(".stream[hidden]");
  };
  timings.streamColdMs = await timeRoute(page, `#/stream/${bigJob}`, streamDrawn, bigJob);
  timings.streamPhases = await page.evaluate(() => Object.fromEntries(["shoal:job-tasks-fetch", "shoal:job-tasks-index"].map((name) => [name, performance.getEntriesByName(name).at(-1)?.duration])));
  await page.waitForTimeout(1000);
  await shot(page, "task-stream");
  // Redraw cost: fit (all 100,000 tasks in view), then zoomed in, then while panning.
  const drawTimes = async (keys) => {
    const times = [];
    await page.focus(".stream-canvas");
    for (const key of keys) {
      await page.keyboard.press(key);
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      times.push(Number(await page.$eval(".stream-canvas", (canvas) => canvas.dataset.drawMs)));
    }
    const visited = Number(await page.$eval(".stream-canvas", (canvas) => canvas.dataset.tasksVisited));
    times.sort((a, b) => a - b);
    return { draws: times.length, medianMs: times[Math.floor(times.length / 2)], maxMs: times.at(-1), tasksVisitedLast: visited };
  };
  await page.click("text=Compact");
  await page.click("button:has-text('Fit')");
  timings.streamDrawFit = await drawTimes(Array(20).fill("ArrowDown"));
  await page.screenshot({ path: join(outDir, "task-stream-compact-fit.png") });
  timings.streamDrawZoomedIn = await drawTimes([...Array(6).fill("+"), ...Array(14).fill("ArrowLeft")]);
  await page.click("text=Comfortable");
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
  await shot(page, "task-stream-zoomed");
  const box = await page.locator(".stream-canvas").boundingBox();
  await page.mouse.move(box.x + 600, box.y + 120);
  await shot(page, "task-stream-tooltip");
  // The worst case: 100,000 tasks on 24 workers, every one of them in view at once.
  timings.denseStreamColdMs = await timeRoute(page, `#/stream/${denseJob}`, streamDrawn, denseJob);
  await page.click("button:has-text('Fit')");
  timings.denseStreamDrawFit = await drawTimes(Array(10).fill("ArrowUp").concat(Array(10).fill("l")));
  await shot(page, "task-stream-dense-all-in-view");
  timings.denseStreamDrawZoomedIn = await drawTimes([...Array(8).fill("+"), ...Array(12).fill("ArrowRight")]);
  // Panning by dragging with the mouse, as a person would.
  const denseBox = await page.locator(".stream-canvas").boundingBox();
  await page.click("button:has-text('Fit')");
  await page.mouse.move(denseBox.x + 900, denseBox.y + 200);
  await page.mouse.down();
  const dragTimes = [];
  for (let step = 1; step <= 20; step += 1) {
    await page.mouse.move(denseBox.x + 900 - step * 20, denseBox.y + 200);
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    dragTimes.push(Number(await page.$eval(".stream-canvas", (canvas) => canvas.dataset.drawMs)));
  }
  await page.mouse.up();
  dragTimes.sort((a, b) => a - b);
  timings.denseStreamDrawWhileDragging = { draws: dragTimes.length, medianMs: dragTimes[10], maxMs: dragTimes.at(-1) };

  // Warm: leave and come back (tasks cached).
  await page.goto(`${origin}/#/jobs`);
  await page.waitForSelector(".vt tbody tr.row");
  timings.streamWarmMs = await timeRoute(page, `#/stream/${bigJob}`, streamDrawn, bigJob);

  timings.jobTaskTableMs = await timeRoute(page, `#/jobs/${bigJob}`, () => document.querySelectorAll(".vt tbody tr.row").length >= 10 && document.querySelector("h1")?.textContent === "render-frames");
  timings.jobTaskRowsInDom = await page.evaluate(() => document.querySelectorAll(".vt tbody tr.row").length);
  await shot(page, "job-detail");
  await page.evaluate(() => { const scroller = document.querySelector(".vt-scroll"); scroller.scrollTop = scroller.scrollHeight / 2; });
  await shot(page, "job-detail-scrolled");

  const taskId = await page.$eval(".vt tbody tr.row a[title=Logs]", (link) => decodeURIComponent(link.getAttribute("href").split("/").pop()));
  await page.goto(`${origin}/#/logs/task/${taskId}`);
  await page.waitForSelector(".logs .vt tbody tr.row");
  await shot(page, "logs-task");
  await page.goto(`${origin}/#/logs/job/${bigJob}`);
  await page.waitForSelector(".logs .vt tbody tr.row", { timeout: 20_000 });
  await shot(page, "logs-job");
  await page.goto(`${origin}/#/logs`);
  await shot(page, "logs-index");
  await page.goto(`${origin}/#/events`);
  await page.waitForSelector(".vt tbody tr.row");
  await page.click(".chip:has-text('Node joined')");
  await shot(page, "events");
  await page.goto(`${origin}/#/alerts`);
  await page.waitForSelector("table.alerts");
  await shot(page, "alerts");

  // Dark theme, by the toggle (system → dark).
  await page.goto(`${origin}/#/`);
  await page.click(".theme-toggle");
  await page.waitForTimeout(2500);
  await shot(page, "overview-dark");
  await page.goto(`${origin}/#/nodes`);
  await page.waitForSelector(".vt tbody tr.row");
  await shot(page, "nodes-dark");
  await page.goto(`${origin}/#/stream/${bigJob}`);
  await page.waitForFunction(() => Number(document.querySelector(".stream-canvas")?.dataset.draws ?? 0) >= 1, null, { timeout: 30_000 });
  await shot(page, "task-stream-dark");
  await page.goto(`${origin}/#/jobs/${bigJob}`);
  await page.waitForSelector(".vt tbody tr.row", { timeout: 30_000 });
  await shot(page, "job-detail-dark");
  await context.close();

  // The system's dark preference, no toggle; and the login page in dark.
  const dark = await newPage("dark");
  await dark.page.goto(`${origin}/login?error=1`);
  await shot(dark.page, "login-dark-wrong-token");
  await signIn(dark.page);
  await dark.page.goto(`${origin}/#/events`);
  await dark.page.waitForSelector(".vt tbody tr.row");
  await shot(dark.page, "events-dark-system");
  await dark.context.close();
} finally {
  await browser.close();
  server.kill();
}

writeFileSync(join(outDir, "timings.json"), `${JSON.stringify({ timings, problems }, null, 2)}\n`);
console.log(JSON.stringify({ timings, problems }, null, 2));
if (problems.length > 0) process.exitCode = 1;
