// The dispatcher console in a real browser, against the real server and a real device.
//
// Debian's chromium (driven by playwright-core, no bundled browser download) logs in, adds a
// technician, reads an enrolment code, creates and assigns a job, all through the console's
// forms. Then the `fieldtech` CLI enrols, accepts, checks in, photographs and syncs, and the
// board and the job page, left open, must change without a reload (a marker on `window`
// survives). A dispatcher of another organisation must see none of it.
//
// Binaries: $FIELDCORE_BIN_DIR, else $CARGO_TARGET_DIR/debug, else <repo>/target/debug.
// Browser: $CHROMIUM, else /usr/bin/chromium. Screenshots: ./artifacts/.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const binDir =
  process.env.FIELDCORE_BIN_DIR ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(repo, "target"), "debug");
const serverBin = path.join(binDir, "sync-server");
const fieldtechBin = path.join(binDir, "fieldtech");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const artifacts = path.join(here, "artifacts");
const PASSWORD = "a long test password";
// The default work calendar of a new organisation is UTC+8; the console's datetime inputs
// are in the organisation's local time.
const ORG_OFFSET_MIN = 8 * 60;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(fn, what, ms = 20000) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

function localInput(date) {
  return new Date(date.getTime() + ORG_OFFSET_MIN * 60000).toISOString().slice(0, 16);
}

async function createDispatcher(dataDir, org, email) {
  await run(
    serverBin,
    ["--data-dir", dataDir, "create-dispatcher", "--org", org, "--email", email, "--name", `Desk of ${org}`],
    { env: { ...process.env, FIELDCORE_PASSWORD: PASSWORD } },
  );
}

async function fieldtech(db, ...args) {
  const { stdout } = await run(fieldtechBin, ["--db", db, ...args], { timeout: 60000 });
  return stdout;
}

async function login(page, base, email) {
  await page.goto(`${base}/console`);
  assert.match(page.url(), /\/console\/login/);
  await page.fill("input[name=email]", email);
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForURL(`${base}/console`), page.click("form.login button")]);
}

test("the console shows a device's work live, and only to its organisation", async (t) => {
  for (const bin of [serverBin, fieldtechBin, chromiumPath]) {
    await fs.access(bin).catch(() => {
      throw new Error(`missing ${bin}: run scripts/test-console (it builds the binaries)`);
    });
  }
  await fs.mkdir(artifacts, { recursive: true });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "fieldcore-console-"));
  const dataDir = path.join(tmp, "data");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  await createDispatcher(dataDir, "Acme Service", "desk@acme.example");
  await createDispatcher(dataDir, "Other Co", "desk@other.example");

  const serverLog = await fs.open(path.join(artifacts, "server.log"), "w");
  const server = spawn(serverBin, ["--data-dir", dataDir, "--bind", `127.0.0.1:${port}`], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
    stdio: ["ignore", serverLog.fd, serverLog.fd],
  });
  const exited = new Promise((resolve) => server.on("exit", resolve));
  t.after(async () => {
    server.kill("SIGTERM");
    const killer = setTimeout(() => server.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killer);
    await serverLog.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, "the server");

  const context = await chromium.launchPersistentContext(path.join(tmp, "chromium-profile"), {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  // Close the browser before the server: open event streams hold its graceful shutdown.
  t.after(() => context.close());
  const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

  // ---- the desk sets up through the console's forms
  const desk = await context.newPage();
  const pageErrors = [];
  desk.on("pageerror", (e) => pageErrors.push(String(e)));
  await login(desk, base, "desk@acme.example");
  await shot(desk, "01-empty-board");

  await desk.goto(`${base}/console/technicians`);
  await desk.fill("#new-technician input[name=name]", "Wang Wei");
  await desk.fill("#new-technician input[name=phone]", "+86 139 0000 0001");
  await Promise.all([desk.waitForLoadState(), desk.click("#new-technician button")]);
  const row = desk.locator("#technicians tr", { hasText: "Wang Wei" });
  await Promise.all([desk.waitForLoadState(), row.locator("form button").click()]);
  const code = (await desk.textContent("#enrolment-code")).trim();
  assert.match(code, /^[A-Z0-9]{10}$/);
  await shot(desk, "02-technician-code");

  await desk.goto(`${base}/console/jobs/new`);
  await desk.selectOption("#new-job select[name=kind]", "install");
  await desk.fill("#new-job input[name=customer_name]", "Li Na");
  await desk.fill("#new-job input[name=address]", "88 Century Avenue, Pudong");
  await desk.fill("#new-job input[name=phone]", "+86 138 0000 0002");
  await desk.fill("#new-job input[name=product_model]", "AC-3500");
  await desk.fill("#new-job input[name=work]", "Install the split air conditioner");
  await desk.fill("#new-job input[name=ordering_party]", "ShopCo");
  const firstAt = new Date(Date.now() + 30 * 60000);
  await desk.fill("#new-job input[name=appointment]", localInput(firstAt));
  await Promise.all([desk.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/), desk.click("#new-job button[type=submit]")]);
  const jobId = desk.url().split("/").pop();

  // Assign on the job page.
  await desk.selectOption("form[data-action=assign] select[name=technician]", { label: "Wang Wei" });
  await Promise.all([desk.waitForLoadState(), desk.click("form[data-action=assign] button")]);
  assert.equal((await desk.textContent("#technician")).trim(), "Wang Wei");
  assert.equal(await desk.getAttribute(".headline .status", "data-status"), "scheduled");

  // The board in a second tab; both pages get a marker a reload would wipe.
  const board = await context.newPage();
  board.on("pageerror", (e) => pageErrors.push(String(e)));
  await board.goto(`${base}/console`);
  assert.equal(await board.getAttribute(`#job-${jobId}`, "data-status"), "scheduled");
  for (const p of [desk, board]) await p.evaluate(() => (window.__noReload = "still here"));
  // Let both event streams connect before the device acts.
  await new Promise((r) => setTimeout(r, 500));

  // ---- the technician's phone, offline-first, then sync
  const db = path.join(tmp, "device", "device.db");
  await fs.mkdir(path.dirname(db), { recursive: true });
  const jpegDataUrl = await desk.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 640;
    c.height = 480;
    const g = c.getContext("2d");
    const grad = g.createLinearGradient(0, 0, 640, 480);
    grad.addColorStop(0, "#2a6");
    grad.addColorStop(1, "#16c");
    g.fillStyle = grad;
    g.fillRect(0, 0, 640, 480);
    g.fillStyle = "#fff";
    g.font = "48px sans-serif";
    g.fillText("installed", 180, 250);
    return c.toDataURL("image/jpeg", 0.9);
  });
  const jpeg = path.join(tmp, "completion.jpg");
  await fs.writeFile(jpeg, Buffer.from(jpegDataUrl.split(",")[1], "base64"));

  await fieldtech(db, "enroll", "--server", base, "--code", code);
  await fieldtech(db, "sync");
  await fieldtech(db, "accept", jobId);
  await fieldtech(db, "checkin", jobId);
  await fieldtech(db, "photo", "add", jobId, "--category", "completion", jpeg);
  await fieldtech(db, "sync");

  // ---- the open pages caught up by themselves
  await board.waitForFunction(
    (id) => document.getElementById(`job-${id}`)?.getAttribute("data-status") === "on_site",
    jobId,
    { timeout: 20000 },
  );
  assert.equal(await board.evaluate(() => window.__noReload), "still here");
  await shot(board, "03-board-live");

  await desk.waitForFunction(
    () => {
      const img = document.querySelector("#photos [data-category=completion] img.thumb");
      return img && img.complete && img.naturalWidth > 0;
    },
    null,
    { timeout: 20000 },
  );
  assert.equal(await desk.evaluate(() => window.__noReload), "still here");
  assert.equal(await desk.getAttribute(".headline .status", "data-status"), "on_site");
  assert.ok(await desk.locator("#timeline tr[data-event=checked_in]").count());
  assert.notEqual((await desk.textContent("#checked-in")).trim(), "—");
  await shot(desk, "04-job-live");

  // The visit goes on: checklist, work done, the customer signs; both pages follow again.
  await fieldtech(db, "check", jobId, "--all-yes");
  await fieldtech(db, "done", jobId);
  await fieldtech(db, "sign", jobId, "--demo");
  await fieldtech(db, "sync");
  await board.waitForFunction(
    (id) => document.getElementById(`job-${id}`)?.getAttribute("data-status") === "work_done",
    jobId,
    { timeout: 20000 },
  );
  await desk.waitForFunction(
    () => {
      const img = document.querySelector("#signature img.signature");
      return img && img.complete && img.naturalWidth > 0;
    },
    null,
    { timeout: 20000 },
  );
  for (const p of [desk, board]) assert.equal(await p.evaluate(() => window.__noReload), "still here");
  assert.ok((await desk.locator("#checklist td.answer.yes").count()) > 10);
  await shot(desk, "05-job-signed");

  // The evidence for the ordering party, as the dispatcher downloads it: the report opens as a
  // PDF, and the bundle verifies offline with `fieldtech verify` (ADR 0017).
  const saved = {};
  for (const kind of ["pdf", "zip"]) {
    const [download] = await Promise.all([
      desk.waitForEvent("download"),
      desk.click(`#evidence-downloads a[href$="evidence.${kind}"]`),
    ]);
    assert.match(download.suggestedFilename(), new RegExp(`-evidence\\.${kind}$`));
    saved[kind] = path.join(tmp, `evidence.${kind}`);
    await download.saveAs(saved[kind]);
  }
  assert.equal((await fs.readFile(saved.pdf)).subarray(0, 5).toString(), "%PDF-");
  const verified = JSON.parse(await fieldtech(db, "--json", "verify", saved.zip));
  assert.equal(verified.verified, true, JSON.stringify(verified));
  assert.equal(verified.job_id, jobId);
  assert.ok(verified.signed_events >= 10 && verified.photos === 2, JSON.stringify(verified));

  // Full size on click: the link serves the same photo.
  const href = await desk.getAttribute("#photos [data-category=completion] a", "href");
  const full = await context.newPage();
  const res = await full.goto(`${base}${href}`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-type"], /^image\//);
  assert.ok(await full.evaluate(() => document.querySelector("img")?.naturalWidth > 0));
  await full.close();

  // zh-CN on the switch.
  await Promise.all([desk.waitForLoadState(), desk.click("header a.lang")]);
  assert.equal(await desk.getAttribute("html", "lang"), "zh-CN");
  assert.match(await desk.textContent("header"), /看板/);
  assert.match(await desk.textContent("#checklist"), /工作服|上岗证/);
  await shot(desk, "06-job-zh-CN");

  // ---- a second visit booked 30 minutes after the first: the desk sees the clash before it
  // happens, on the job page and on the technician's day (a visit is planned as 90 min + 30)
  const plan = await context.newPage();
  plan.on("pageerror", (e) => pageErrors.push(String(e)));
  const secondAt = new Date(firstAt.getTime() + 30 * 60000);
  await plan.goto(`${base}/console/jobs/new`);
  await plan.selectOption("#new-job select[name=kind]", "install");
  await plan.fill("#new-job input[name=customer_name]", "Zhao Min");
  await plan.fill("#new-job input[name=address]", "12 Nanjing Road");
  await plan.fill("#new-job input[name=phone]", "+86 138 0000 0003");
  await plan.fill("#new-job input[name=product_model]", "WM-80");
  await plan.fill("#new-job input[name=work]", "Install the washing machine");
  await plan.fill("#new-job input[name=ordering_party]", "ShopCo");
  await plan.fill("#new-job input[name=appointment]", localInput(secondAt));
  await Promise.all([plan.waitForURL(/\/console\/jobs\/[0-9a-f-]{36}$/), plan.click("#new-job button[type=submit]")]);
  const secondId = plan.url().split("/").pop();
  assert.equal(await plan.locator("#schedule-conflicts").count(), 0, "no technician yet, no clash");
  await plan.selectOption("form[data-action=assign] select[name=technician]", { label: "Wang Wei" });
  await Promise.all([plan.waitForLoadState(), plan.click("form[data-action=assign] button")]);
  assert.equal(await plan.locator(`#schedule-conflicts a[href="/console/jobs/${jobId}"]`).count(), 1);
  await shot(plan, "07a-schedule-conflict");

  await plan.goto(`${base}/console/technicians`);
  const dayLink = plan.locator("#technicians tr", { hasText: "Wang Wei" }).locator("a.day-link");
  await Promise.all([plan.waitForURL(/\/day$/), dayLink.click()]);
  await plan.goto(`${plan.url()}?date=${localInput(secondAt).slice(0, 10)}`);
  assert.equal(await plan.locator(`#day-timeline g.visit.conflict[data-job="${secondId}"]`).count(), 1);
  assert.equal(
    await plan.locator(`#day-visits tr.conflict[data-job="${secondId}"] a[href="/console/jobs/${jobId}"]`).count(),
    1,
  );
  await shot(plan, "07b-technician-day");
  await plan.close();

  assert.deepEqual(pageErrors, []);

  // ---- another organisation's dispatcher sees none of it
  await desk.close();
  await board.close();
  await context.clearCookies();
  const other = await context.newPage();
  await login(other, base, "desk@other.example");
  assert.equal(await other.locator(`#job-${jobId}`).count(), 0);
  assert.doesNotMatch(await other.content(), /Li Na|Wang Wei/);
  const theirs = await other.goto(`${base}/console/jobs/${jobId}`);
  assert.equal(theirs.status(), 404);
  const photo = await other.goto(`${base}${href}`);
  assert.equal(photo.status(), 404);
  await other.goto(`${base}/console/technicians`);
  assert.doesNotMatch(await other.content(), /Wang Wei/);
  await shot(other, "07-other-organisation");
});
