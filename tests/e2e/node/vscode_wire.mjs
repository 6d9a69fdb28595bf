// What VS Code would see from `podium lsp`, through VS Code's own wire stack.
//
// VS Code cannot run here, but its language client talks through `vscode-languageserver-protocol`; this
// script drives the server with that package over stdio, the way the extension in clients/vscode does:
// initialize with the capabilities and client info the test passes (a recorded VS Code's), then a
// mission through `workspace/executeCommand`, opening the claimed file as an editor would. It records
// every answer and notification and prints them as one JSON object; tests/e2e/test_vscode_wire.py
// asserts on them.
//
// Usage: node vscode_wire.mjs PLAN.json   (see the test for the plan's fields)
// Every wait is bounded by plan.step_ms; the whole run by plan.deadline_ms.

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-languageserver-protocol/node";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const seen = {
  showMessage: [],
  logMessage: [],
  progressCreate: [],
  progress: [],
  diagnostics: [],
  otherRequests: [],
};
const out = { seen, steps: [] };
const waiters = new Set();

const deadline = setTimeout(
  () => finish(`the run did not finish within ${plan.deadline_ms} ms`),
  plan.deadline_ms,
);

const server = spawn(plan.command[0], plan.command.slice(1), {
  cwd: plan.cwd,
  env: plan.env,
  stdio: ["pipe", "pipe", "pipe"],
});
let stderr = "";
server.stderr.on("data", (chunk) => {
  stderr += chunk;
});
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));

const connection = createProtocolConnection(
  new StreamMessageReader(server.stdout),
  new StreamMessageWriter(server.stdin),
);

function notice() {
  for (const waiter of [...waiters]) {
    if (waiter.condition()) {
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }
}

/** Resolves once `condition()` holds after some message arrived; rejects after plan.step_ms. */
function waitFor(what, condition) {
  if (condition()) {
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const waiter = { condition, resolve };
    waiter.timer = setTimeout(() => {
      waiters.delete(waiter);
      reject(new Error(`gave up waiting for ${what}`));
    }, plan.step_ms);
    waiters.add(waiter);
  });
}

connection.onNotification("window/showMessage", (params) => {
  seen.showMessage.push(params);
  notice();
});
connection.onNotification("window/logMessage", (params) => {
  seen.logMessage.push(params);
});
connection.onNotification("textDocument/publishDiagnostics", (params) => {
  seen.diagnostics.push(params);
  notice();
});
connection.onNotification("$/progress", (params) => {
  seen.progress.push(params);
  notice();
});
connection.onRequest("window/workDoneProgress/create", (params) => {
  seen.progressCreate.push(params.token);
  return null;
});
connection.onRequest("workspace/configuration", (params) => params.items.map(() => null));
connection.onRequest((method) => {
  seen.otherRequests.push(method);
  return null;
});

/** One command, as the extension sends it; its result, or the JSON-RPC error it answered with. */
async function command(name, args) {
  try {
    const result = await connection.sendRequest("workspace/executeCommand", {
      command: name,
      arguments: [args],
    });
    out.steps.push({ command: name, result });
    return result;
  } catch (error) {
    out.steps.push({ command: name, error: { code: error.code, message: error.message, data: error.data } });
    return undefined;
  }
}

function diagnosticsOf(uri) {
  const published = seen.diagnostics.filter((params) => params.uri === uri);
  return published.length === 0 ? undefined : published[published.length - 1].diagnostics;
}

function podiumDiagnosticsSomewhere() {
  return seen.diagnostics.some((params) => params.diagnostics.some((d) => d.source === "podium"));
}

async function scenario() {
  connection.listen();
  const rootUri = pathToFileURL(plan.cwd).href;
  const initialized = await connection.sendRequest("initialize", {
    processId: process.pid,
    clientInfo: plan.client_info,
    locale: "en",
    rootPath: plan.cwd,
    rootUri,
    capabilities: plan.capabilities,
    trace: "off",
    workspaceFolders: [{ uri: rootUri, name: "repo" }],
  });
  out.initialize = initialized;
  await connection.sendNotification("initialized", {});

  const started = await command("podium.mission_start", { goal: plan.goal, tasks: [plan.task] });
  const missionId = started.mission_id;
  await command("podium.mission_status", { mission_id: missionId });
  await command("podium.task_claim", { mission_id: "no-such-mission", worker: plan.worker });
  const claimed = await command("podium.task_claim", { mission_id: missionId, worker: plan.worker });
  const taskId = `${claimed.task.mission_id}/${claimed.task.id}`;
  const worktreeFile = join(claimed.worktree, plan.file);
  const uri = pathToFileURL(worktreeFile).href;

  // The user opens the task's file and saves a broken edit; the extension submits the worktree.
  await connection.sendNotification("textDocument/didOpen", {
    textDocument: { uri, languageId: plan.language_id, version: 1, text: readFileSync(worktreeFile, "utf8") },
  });
  writeFileSync(worktreeFile, plan.broken);
  await connection.sendNotification("textDocument/didChange", {
    textDocument: { uri, version: 2 },
    contentChanges: [{ text: plan.broken }],
  });
  await connection.sendNotification("textDocument/didSave", { textDocument: { uri } });
  const rejected = await command("podium.task_submit", { task_id: taskId, worker: plan.worker });
  out.rejected_status = rejected?.status;
  await waitFor("podium diagnostics after the rejection", podiumDiagnosticsSomewhere);
  out.diagnostics_after_rejection = seen.diagnostics.filter((params) => params.diagnostics.length > 0);

  writeFileSync(worktreeFile, plan.fixed);
  await connection.sendNotification("textDocument/didChange", {
    textDocument: { uri, version: 3 },
    contentChanges: [{ text: plan.fixed }],
  });
  await connection.sendNotification("textDocument/didSave", { textDocument: { uri } });
  const merged = await command("podium.task_submit", { task_id: taskId, worker: plan.worker });
  out.merged_status = merged?.status;
  const rejectedUris = out.diagnostics_after_rejection.map((params) => params.uri);
  await waitFor("the podium diagnostics to clear", () =>
    rejectedUris.every((rejectedUri) => (diagnosticsOf(rejectedUri) ?? []).length === 0),
  );
  out.diagnostics_after_merge = rejectedUris.map((rejectedUri) => ({
    uri: rejectedUri,
    diagnostics: diagnosticsOf(rejectedUri),
  }));
  await command("podium.mission_status", { mission_id: missionId });

  await connection.sendNotification("textDocument/didClose", { textDocument: { uri } });
  await connection.sendRequest("shutdown");
  await connection.sendNotification("exit");
  const stopped = await Promise.race([
    exited,
    new Promise((resolve) => setTimeout(() => resolve(undefined), plan.step_ms)),
  ]);
  out.exit = stopped ?? "still running after exit";
}

let done = false;
function finish(error) {
  if (done) {
    return;
  }
  done = true;
  clearTimeout(deadline);
  for (const waiter of waiters) {
    clearTimeout(waiter.timer);
  }
  out.error = error ?? null;
  out.stderr_tail = stderr.slice(-4000);
  if (server.exitCode === null && server.signalCode === null) {
    server.kill("SIGKILL");
  }
  connection.dispose();
  process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(error ? 1 : 0));
}

scenario().then(
  () => finish(null),
  (error) => finish(String(error?.stack ?? error)),
);
