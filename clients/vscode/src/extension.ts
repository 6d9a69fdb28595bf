// Podium for VS Code: starts `podium lsp` for the workspace and puts every Podium operation in the
// command palette.
//
// Each operation is a `workspace/executeCommand` request `podium.<operation>` with one JSON object
// argument. The language client also registers those ids as VS Code commands, so keybindings and other
// extensions can call e.g. `podium.task_claim` with `{mission_id, worker}` directly; the palette commands
// below ask for the fields and fill in the remembered mission, task and worker. Rejections arrive as
// diagnostics (source "podium"), merges and rejections as messages, submissions as progress: the
// language client shows all of these. The one addition here: the server publishes a rejection's findings
// on the project's files, and they are repeated on the task worktree's copy, where the work is edited.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

type Json = Record<string, unknown>;

interface TaskView {
  id: string;
  mission_id: string;
  title: string;
  state: string;
  files: string[];
}

interface ClaimedTask {
  id: string;
  title: string;
  worktree: string;
}

/** What the extension remembers per workspace, so the palette commands need no ids. */
interface PodiumState {
  missionId?: string;
  tasks: ClaimedTask[];
}

const STATE_KEY = "podium.state";

let client: LanguageClient | undefined;
let context: vscode.ExtensionContext;
let worktreeDiagnostics: vscode.DiagnosticCollection;
/** Project file URI → the worktree file URIs its diagnostics were repeated on. */
const mirrored = new Map<string, vscode.Uri[]>();

/** Palette command id → what it runs. Every operation of `podium lsp` has one. */
const PALETTE: Record<string, () => Promise<void>> = {
  "podium.missionStart": missionStart,
  "podium.roadmapAdd": roadmapAdd,
  "podium.taskClaim": taskClaim,
  "podium.taskHeartbeat": taskHeartbeat,
  "podium.taskSubmit": taskSubmit,
  "podium.taskReview": taskReview,
  "podium.taskRelease": taskRelease,
  "podium.missionStatus": missionStatus,
  "podium.missionFinish": missionFinish,
  "podium.missionCancel": missionCancel,
  "podium.missionRun": missionRun,
  "podium.missionWait": missionWait,
  "podium.verify": verifyFile,
  "podium.restartServer": restartServer,
};

export async function activate(extensionContext: vscode.ExtensionContext): Promise<void> {
  context = extensionContext;
  worktreeDiagnostics = vscode.languages.createDiagnosticCollection("podium-worktrees");
  context.subscriptions.push(worktreeDiagnostics);
  for (const [id, action] of Object.entries(PALETTE)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, () => guarded(action)));
  }
  await startClient();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

function projectRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

async function startClient(): Promise<void> {
  const root = projectRoot();
  if (root === undefined) {
    return;
  }
  const settings = vscode.workspace.getConfiguration("podium");
  const serverOptions: ServerOptions = {
    command: settings.get<string>("server.command", "podium"),
    args: settings.get<string[]>("server.args", ["lsp"]),
    transport: TransportKind.stdio,
    options: { cwd: root },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }],
    outputChannelName: "Podium",
    middleware: {
      handleDiagnostics: (uri, diagnostics, next) => {
        next(uri, diagnostics);
        mirrorDiagnostics(root, uri, diagnostics);
      },
    },
  };
  client = new LanguageClient("podium", "Podium", serverOptions, clientOptions);
  await client.start();
}

/** The task a finding belongs to: the server puts `{mission_id, task_id}` in each diagnostic's data. */
function taskOf(diagnostic: vscode.Diagnostic): { mission_id: string; task_id: string } | undefined {
  const data = (diagnostic as { data?: unknown }).data;
  if (typeof data !== "object" || data === null) {
    return undefined;
  }
  const { mission_id, task_id } = data as Record<string, unknown>;
  return typeof mission_id === "string" && typeof task_id === "string" ? { mission_id, task_id } : undefined;
}

/** Repeat a project file's findings on the same file in each existing worktree of the tasks they name. */
function mirrorDiagnostics(root: string, uri: vscode.Uri, diagnostics: readonly vscode.Diagnostic[]): void {
  const relative = path.relative(root, uri.fsPath);
  if (relative.startsWith("..") || path.isAbsolute(relative) || relative.split(path.sep)[0] === ".podium") {
    return;
  }
  const targets = new Map<string, { uri: vscode.Uri; diagnostics: vscode.Diagnostic[] }>();
  for (const diagnostic of diagnostics) {
    const task = taskOf(diagnostic);
    const worktree = task && path.join(root, ".podium", "worktrees", task.mission_id, task.task_id);
    if (worktree === undefined || !fs.existsSync(worktree)) {
      continue;
    }
    const target = vscode.Uri.file(path.join(worktree, relative));
    const entry = targets.get(target.toString()) ?? { uri: target, diagnostics: [] };
    entry.diagnostics.push(diagnostic);
    targets.set(target.toString(), entry);
  }
  for (const previous of mirrored.get(uri.toString()) ?? []) {
    if (!targets.has(previous.toString())) {
      worktreeDiagnostics.delete(previous);
    }
  }
  for (const entry of targets.values()) {
    worktreeDiagnostics.set(entry.uri, entry.diagnostics);
  }
  mirrored.set(
    uri.toString(),
    [...targets.values()].map((entry) => entry.uri),
  );
}

async function restartServer(): Promise<void> {
  await client?.stop();
  worktreeDiagnostics.clear();
  mirrored.clear();
  await startClient();
}

async function guarded(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    void vscode.window.showErrorMessage(`Podium: ${message}`);
  }
}

/** Run one operation on the server; its result (the same JSON as the MCP tool's structured result). */
async function run<T = Json>(operation: string, args: Json): Promise<T> {
  if (client === undefined) {
    throw new Error("no podium language server: open a folder inside a git repository");
  }
  return (await client.sendRequest(ExecuteCommandRequest.type, {
    command: `podium.${operation}`,
    arguments: [args],
  })) as T;
}

function state(): PodiumState {
  return context.workspaceState.get<PodiumState>(STATE_KEY) ?? { tasks: [] };
}

async function remember(update: Partial<PodiumState>): Promise<void> {
  await context.workspaceState.update(STATE_KEY, { ...state(), ...update });
}

function worker(): string {
  const configured = vscode.workspace.getConfiguration("podium").get<string>("worker", "");
  return configured || `vscode-${os.userInfo().username}`;
}

async function ask(prompt: string, value = ""): Promise<string> {
  const answer = await vscode.window.showInputBox({ prompt, value, ignoreFocusOut: true });
  if (answer === undefined) {
    throw new Error("cancelled");
  }
  return answer;
}

async function pick<T extends vscode.QuickPickItem>(items: T[], placeHolder: string): Promise<T> {
  const chosen = await vscode.window.showQuickPick(items, { placeHolder, ignoreFocusOut: true });
  if (chosen === undefined) {
    throw new Error("cancelled");
  }
  return chosen;
}

/** The remembered mission, else the project's only active one (or the one the user picks). */
async function missionId(): Promise<string> {
  const known = state().missionId;
  if (known !== undefined) {
    return known;
  }
  const status = await run<{ missions: { mission_id: string; goal: string; state: string }[] }>(
    "mission_status",
    {},
  );
  const active = status.missions.filter((mission) => mission.state === "active");
  if (active.length === 0) {
    throw new Error("no active mission: run Podium: Start Mission");
  }
  const chosen =
    active.length === 1
      ? active[0]
      : (await pick(
          active.map((mission) => ({ label: mission.mission_id, description: mission.goal, mission })),
          "Which mission?",
        )).mission;
  await remember({ missionId: chosen.mission_id });
  return chosen.mission_id;
}

/** The claimed task whose worktree holds the active file, else the one claimed last. */
function currentTask(): ClaimedTask {
  const tasks = state().tasks;
  const file = vscode.window.activeTextEditor?.document.uri.fsPath;
  const holding = tasks.find((task) => file !== undefined && file.startsWith(task.worktree + path.sep));
  const task = holding ?? tasks[tasks.length - 1];
  if (task === undefined) {
    throw new Error("no claimed task: run Podium: Claim Task");
  }
  return task;
}

function forget(taskId: string): Promise<void> {
  return remember({ tasks: state().tasks.filter((task) => task.id !== taskId) });
}

/** The active file as `{base, relative}`: its task worktree (else the project) and the path inside it. */
function activeFile(): { base: string; relative: string } | undefined {
  const file = vscode.window.activeTextEditor?.document.uri.fsPath;
  const root = projectRoot();
  if (file === undefined || root === undefined) {
    return undefined;
  }
  const worktree = state().tasks.find((task) => file.startsWith(task.worktree + path.sep))?.worktree;
  const base = worktree ?? root;
  const relative = path.relative(base, file);
  if (relative.startsWith("..") || path.isAbsolute(relative)) {
    return undefined;
  }
  return { base, relative: relative.split(path.sep).join("/") };
}

async function missionStart(): Promise<void> {
  const goal = await ask("Mission goal");
  const started = await run<{ mission_id: string; branch: string }>("mission_start", { goal, tasks: [] });
  await remember({ missionId: started.mission_id, tasks: [] });
  void vscode.window.showInformationMessage(`Podium: mission ${started.mission_id} on ${started.branch}`);
}

async function roadmapAdd(): Promise<void> {
  const mission = await missionId();
  const title = await ask("Task title");
  const files = (await ask("Files (comma separated)", activeFile()?.relative ?? ""))
    .split(",")
    .map((file) => file.trim())
    .filter((file) => file.length > 0);
  const added = await run<{ ids: string[] }>("roadmap_add", {
    mission_id: mission,
    tasks: [{ title, files }],
  });
  void vscode.window.showInformationMessage(`Podium: added ${added.ids.join(", ")}`);
}

async function taskClaim(): Promise<void> {
  const claimed = await run<{
    claimed: boolean;
    task: TaskView | null;
    worktree: string | null;
    files: string[];
    reason: string | null;
  }>("task_claim", { mission_id: await missionId(), worker: worker() });
  if (!claimed.claimed || claimed.task === null || claimed.worktree === null) {
    void vscode.window.showWarningMessage(`Podium: nothing to claim (${claimed.reason ?? "no ready task"})`);
    return;
  }
  const task = claimed.task;
  const entry = { id: `${task.mission_id}/${task.id}`, title: task.title, worktree: claimed.worktree };
  await remember({ tasks: [...state().tasks.filter((known) => known.id !== entry.id), entry] });
  if (claimed.files.length > 0) {
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(claimed.worktree, claimed.files[0])));
  }
  void vscode.window.showInformationMessage(`Podium: claimed ${task.id} "${task.title}"`);
}

async function taskHeartbeat(): Promise<void> {
  const task = currentTask();
  await run("task_heartbeat", { task_id: task.id, worker: worker() });
}

async function taskSubmit(): Promise<void> {
  const task = currentTask();
  // The gate reads the worktree from disk: unsaved edits in it would not be judged.
  for (const document of vscode.workspace.textDocuments) {
    if (document.isDirty && document.uri.fsPath.startsWith(task.worktree + path.sep)) {
      await document.save();
    }
  }
  const result = await run<{ status: string; merged_commit: string | null }>("task_submit", {
    task_id: task.id,
    worker: worker(),
  });
  if (result.status === "merged") {
    await forget(task.id);
  }
}

async function taskReview(): Promise<void> {
  const taskId = await ask("Task id to review (e.g. T3)");
  const verdict = await pick(
    [
      { label: "Approve", approve: true },
      { label: "Reject", approve: false },
    ],
    "Verdict",
  );
  const comments = await ask("Comments (optional)");
  const result = await run<{ status: string }>("task_review", {
    task_id: taskId,
    reviewer: worker(),
    approve: verdict.approve,
    comments,
  });
  void vscode.window.showInformationMessage(`Podium: ${taskId} ${result.status}`);
}

async function taskRelease(): Promise<void> {
  const task = currentTask();
  const status = await pick(
    ["ready", "blocked", "failed"].map((label) => ({ label })),
    `Give ${task.id} back as`,
  );
  const reason = await ask("Reason (optional)");
  await run("task_release", { task_id: task.id, worker: worker(), status: status.label, reason });
  await forget(task.id);
}

async function missionStatus(): Promise<void> {
  const known = state().missionId;
  const status = await run<{ missions: { roadmap: string }[] }>(
    "mission_status",
    known === undefined ? {} : { mission_id: known },
  );
  const content = status.missions.map((mission) => mission.roadmap).join("\n\n---\n\n") || "No missions yet.";
  const document = await vscode.workspace.openTextDocument({ language: "markdown", content });
  await vscode.commands.executeCommand("markdown.showPreview", document.uri);
}

async function missionFinish(): Promise<void> {
  const mission = await missionId();
  const choice = await pick(
    [
      { label: "Finish and merge into my branch", apply: true },
      { label: "Finish without merging", apply: false },
    ],
    `Finish ${mission}`,
  );
  const result = await run<{ applied: boolean; user_branch: string | null }>("mission_finish", {
    mission_id: mission,
    apply: choice.apply,
  });
  await remember({ missionId: undefined, tasks: [] });
  const where = result.applied ? `merged into ${result.user_branch ?? "your branch"}` : "not merged";
  void vscode.window.showInformationMessage(`Podium: mission ${mission} finished, ${where}`);
}

async function missionCancel(): Promise<void> {
  const mission = await missionId();
  await pick([{ label: `Cancel ${mission} and its open tasks` }], "Your branch stays as it is");
  await run("mission_cancel", { mission_id: mission });
  await remember({ missionId: undefined, tasks: [] });
}

async function missionRun(): Promise<void> {
  const mission = await missionId();
  const result = await run<{ run_status: string; progress: number }>("mission_run", { mission_id: mission });
  void vscode.window.showInformationMessage(
    `Podium: mission ${mission} is ${result.run_status} (${result.progress}% merged)`,
  );
}

async function missionWait(): Promise<void> {
  const mission = await missionId();
  const result = await run<{ state: string; run_status: string; progress: number }>("mission_wait", {
    mission_id: mission,
    timeout_s: 50,
  });
  void vscode.window.showInformationMessage(
    `Podium: mission ${mission} is ${result.state}, run ${result.run_status}, ${result.progress}% merged`,
  );
}

async function verifyFile(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const file = activeFile();
  const root = projectRoot();
  if (editor === undefined || file === undefined || root === undefined) {
    throw new Error("open a file of the project first");
  }
  // Judged against the file's own tree: a task worktree, or the project itself.
  const verdict = await run<{ accepted: boolean; summary: string }>("verify", {
    edits: [{ path: file.relative, content: editor.document.getText() }],
    root: path.relative(root, file.base) || null,
  });
  const show = verdict.accepted ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(`Podium: ${verdict.summary}`);
}
