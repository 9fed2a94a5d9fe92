// The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against a real cluster:
// login with the token, both nodes, the job at 100 %, the task stream and a task's logs; screenshots saved.

import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { chatty, slowSquare } from "./fixtures/tasks.js";
import { startTestCluster, type TestCluster } from "./helpers.js";

const chromiumPath = "/usr/bin/chromium";
const skip = existsSync(chromiumPath) ? false : "Chromium is not installed (apt-get install chromium, as .ci/run does)";
const artifacts = join(process.cwd(), "test-artifacts", "e2e");

describe("the dashboard in Chromium", { skip, timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let browser: Browser;
  let url: string;
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    cluster = await startTestCluster({ nodes: [{ cpus: 2 }, { cpus: 2 }] });
    url = cluster.local.head.httpUrl as string;
    await cluster.client.map(slowSquare, Array.from({ length: 60 }, (_, index) => index), { chunkSize: 1 });
    await cluster.client.get(cluster.client.submit(chatty, "dashboard"));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  async function signedIn(): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    await page.goto(`${url}/`);
    await page.waitForURL(`${url}/login`);
    await page.fill("#token", cluster.local.token);
    await Promise.all([page.waitForURL(`${url}/`), page.click("button[type=submit]")]);
    return page;
  }

  test("without the token: the login page, a wrong token is refused, and the API answers 401", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${url}/`);
    await page.waitForURL(`${url}/login`);
    assert.ok(await page.isVisible("#token"));
    await page.fill("#token", "not-the-token-not-the-token");
    await Promise.all([page.waitForURL(`${url}/login?error=1`), page.click("button[type=submit]")]);
    const status = await page.evaluate(async (base) => (await fetch(`${base}/api/cluster`)).status, url);
    assert.equal(status, 401);
    await page.screenshot({ path: join(artifacts, "login-refused.png") });
  });

  test("the overview shows both nodes alive; the nodes page lists them", async () => {
    const page = await signedIn();
    await page.waitForSelector(".stat");
    await page.getByText(/nodes alive/i).waitFor({ timeout: 15_000 });
    await waitForText(page, /nodes alive\s*2\b/i);
    await page.screenshot({ path: join(artifacts, "overview.png") });
    await page.goto(`${url}/#/nodes`);
    for (const node of cluster.local.nodes) await page.waitForSelector(`text=${node.nodeId}`, { timeout: 15_000 });
    await page.screenshot({ path: join(artifacts, "nodes.png") });
  });

  test("the job reaches 100 %, its task stream draws, and a task's logs show what it printed", async () => {
    const page = await signedIn();
    const jobId = cluster.client.jobId;
    await page.goto(`${url}/#/jobs/${jobId}`);
    await waitForText(page, /100\s*%/);
    await page.screenshot({ path: join(artifacts, "job.png") });
    await page.goto(`${url}/#/stream/${jobId}`);
    await page.waitForSelector("canvas", { timeout: 15_000 });
    await page.screenshot({ path: join(artifacts, "task-stream.png") });
    const tasks = (await (await fetch(`${url}/api/jobs/${jobId}/tasks`, { headers: { authorization: `Bearer ${cluster.local.token}` } })).json()) as Array<{
      taskId: string;
      name: string;
    }>;
    const chattyTask = tasks.find((task) => task.name === "test.chatty");
    assert.ok(chattyTask !== undefined);
    await page.goto(`${url}/#/logs/task/${chattyTask.taskId}`);
    await waitForText(page, /hello from dashboard/);
    await page.screenshot({ path: join(artifacts, "task-logs.png") });
  });
});

/** Polls the page's visible text until it matches (no script is injected: the pages run under a strict CSP). */
async function waitForText(page: Page, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const text = await page.locator("body").innerText();
    if (pattern.test(text)) return;
    if (performance.now() > deadline) throw new Error(`the page never showed ${pattern}; it shows: ${text.slice(0, 500)}`);
    await page.waitForTimeout(200);
  }
}
