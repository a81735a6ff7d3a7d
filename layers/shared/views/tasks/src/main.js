// The task view: the user's tasks inside the MCP client (MCP Apps, extension io.modelcontextprotocol/ui).
//
// It talks only to its host, through the extension's App class: the host hands it the result of
// the tool call that opened it (list_tasks, or a change a model made), and relays the view's own
// tools/call requests to the server with the host's token. The view holds no token, stores
// nothing, and makes no network request of its own: its CSP forbids them anyway.
import { App, applyDocumentTheme, applyHostStyleVariables } from "@modelcontextprotocol/ext-apps";

// What the view shows after an action: every task, pending first (the server's page size limit).
const REFRESH = { name: "list_tasks", arguments: { limit: 100 } };

const app = new App({ name: "Task view", version: "1.0.0" });
const list = document.getElementById("tasks");
const count = document.getElementById("count");
const status = document.getElementById("status");
const input = document.getElementById("new-title");

let shown = []; // the tasks on screen, as list_tasks answered them
let more = false; // whether list_tasks said there are more than it answered
let changed = null; // the task_id of the task the last change was about
let editing = null; // the task_id being edited

// A tool's answer: structuredContent, or (revisions before 2025-06-18) the same JSON as text.
function answer(result) {
  if (result.structuredContent) return result.structuredContent;
  try {
    return JSON.parse(result.content?.[0]?.text ?? "null");
  } catch {
    return null;
  }
}

function say(text, alert = false) {
  status.textContent = text;
  status.setAttribute("role", alert ? "alert" : "status");
}

// Shows a tool result: a page of tasks as it is, a change by fetching the list it changed.
async function receive(result) {
  if (result.isError) {
    say(result.content?.[0]?.text ?? "The tool failed.", true);
    return;
  }
  const data = answer(result);
  if (data && Array.isArray(data.tasks)) {
    shown = data.tasks;
    more = data.next_cursor != null;
    render();
    return;
  }
  if (data && data.task_id) changed = data.task_id;
  await run(REFRESH);
}

// One tools/call through the host, then the list as it is now: a refusal (a task another client
// deleted, say) is said, and the list shows why.
async function run(call, done) {
  setBusy(true);
  try {
    const result = await app.callServerTool(call);
    if (call.name === REFRESH.name) return await receive(result);
    if (result.isError) say(result.content?.[0]?.text ?? "The tool failed.", true);
    else done?.(answer(result));
    await run(REFRESH);
  } catch (error) {
    say(`Could not reach your tasks: ${error.message ?? error}`, true);
  } finally {
    setBusy(false);
  }
}

function setBusy(busy) {
  document.body.toggleAttribute("aria-busy", busy);
  for (const control of document.querySelectorAll("button, input")) control.disabled = busy;
}

function button(label, name, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.setAttribute("aria-label", name);
  element.addEventListener("click", action);
  return element;
}

function row(task) {
  const item = document.createElement("li");
  item.className = `task ${task.status}`;
  item.dataset.taskId = task.task_id;
  if (task.task_id === changed) item.classList.add("changed");
  if (task.task_id === editing) {
    item.append(editor(task));
    return item;
  }
  const text = document.createElement("div");
  text.className = "text";
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = task.title;
  text.append(title);
  if (task.description) {
    const description = document.createElement("span");
    description.className = "description";
    description.textContent = task.description;
    text.append(description);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  if (task.status === "pending") {
    const complete = button("Complete", `Complete ${task.title}`, () =>
      run({ name: "complete_task", arguments: { task_id: task.task_id } }, () => {
        changed = task.task_id;
        say(`Completed “${task.title}”.`);
      }),
    );
    complete.className = "primary";
    actions.append(complete);
  }
  actions.append(
    button("Edit", `Edit ${task.title}`, () => {
      editing = task.task_id;
      render();
      list.querySelector(".editor input")?.focus();
    }),
    button("Delete", `Delete ${task.title}`, () =>
      run({ name: "delete_task", arguments: { task_id: task.task_id } }, () => {
        say(`Deleted “${task.title}”.`);
      }),
    ),
  );
  item.append(text, actions);
  return item;
}

function editor(task) {
  const edit = document.createElement("div");
  edit.className = "editor";
  const field = document.createElement("input");
  field.value = task.title;
  field.maxLength = 200;
  field.setAttribute("aria-label", `New title for ${task.title}`);
  const save = () => {
    const title = field.value.trim();
    if (!title) return;
    run({ name: "update_task", arguments: { task_id: task.task_id, title } }, () => {
      editing = null;
      changed = task.task_id;
      say(`Renamed to “${title}”.`);
    });
  };
  onEnter(field, save);
  const saveButton = button("Save", `Save the new title of ${task.title}`, save);
  saveButton.className = "primary";
  const cancel = button("Cancel", "Cancel editing", () => {
    editing = null;
    render();
  });
  edit.append(field, saveButton, cancel);
  return edit;
}

function render() {
  const pending = shown.filter((task) => task.status === "pending");
  const completed = shown.filter((task) => task.status !== "pending");
  list.replaceChildren(...[...pending, ...completed].map(row));
  count.textContent = shown.length
    ? `${pending.length} pending, ${completed.length} done${more ? " (more not shown)" : ""}`
    : "No tasks yet";
}

function follow(context) {
  if (context?.theme) applyDocumentTheme(context.theme);
  if (context?.styles?.variables) applyHostStyleVariables(context.styles.variables);
}

// Buttons and the Enter key, not a <form>: a host's sandbox may not allow form submission.
function onEnter(field, action) {
  field.addEventListener("keydown", (event) => {
    if (event.key === "Enter") action();
  });
}

function add() {
  const title = input.value.trim();
  if (!title) return;
  run({ name: "add_task", arguments: { title } }, (added) => {
    input.value = "";
    changed = added?.task_id ?? null;
    say(`Added “${title}”.`);
  });
}
onEnter(input, add);
document.getElementById("add-button").addEventListener("click", add);

// Handlers first: the host may send the tool's result as soon as the handshake is done.
app.ontoolresult = (result) => receive(result);
app.ontoolcancelled = () => say("The tool call was cancelled.", true);
app.onhostcontextchanged = follow;
await app.connect();
follow(app.getHostContext());
