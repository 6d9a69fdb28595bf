--- Podium for Neovim: drive Podium missions from the editor through `podium lsp`.
---
--- Every action is a `workspace/executeCommand` request `podium.<operation>` with one JSON object
--- argument (the fields of the MCP tool of the same name). The server reports back on its own: rejected
--- edits as diagnostics (source `podium`), merges and rejections as messages, submissions as progress.
--- This module remembers the current mission and the tasks claimed in this editor, so the commands
--- need no ids.
local float = require('podium.float')
local mirror = require('podium.mirror')

local M = {}

--- Every operation `podium lsp` offers, for `:Podium {operation}` and its completion.
M.operations = {
  'mission_start',
  'roadmap_add',
  'task_claim',
  'task_heartbeat',
  'task_submit',
  'task_review',
  'task_release',
  'mission_status',
  'mission_finish',
  'mission_cancel',
  'verify',
}

--- What the plugin remembers: `mission_id`, the claimed `tasks` (by qualified id, each
--- `{ id, task, worktree, files }`) and `current`, the id of the task claimed last.
M.state = { mission_id = nil, tasks = {}, current = nil }

local defaults = {
  name = 'podium',
  cmd = { 'podium', 'lsp' },
  -- nil: every buffer that holds a file; a list limits the client to those filetypes.
  filetypes = nil,
  root_markers = { 'podium.toml', '.git' },
  worker = nil, -- default: "nvim-$USER"
  open_on_claim = true,
  save_before_submit = true,
  progress = true,
  float = { border = 'rounded', width = 0.8, height = 0.8 },
  on_init = nil,
}

local options = vim.deepcopy(defaults)
local has_config_api = vim.fn.has('nvim-0.11') == 1 and vim.lsp.config ~= nil
local waiting = {} -- client id -> callbacks to run once it is initialized (or has exited)
local INFO, WARN, ERROR = vim.log.levels.INFO, vim.log.levels.WARN, vim.log.levels.ERROR

local function notify(message, level)
  vim.notify('Podium: ' .. message, level or INFO)
end

local function worker()
  return options.worker or ('nvim-' .. (vim.env.USER or vim.env.USERNAME or 'user'))
end

local function short(commit)
  return type(commit) == 'string' and commit:sub(1, 10) or '?'
end

--- The project a path belongs to: above a task worktree (`<root>/.podium/worktrees/...`) it is the
--- repository the worktree came from, so worktree buffers share the project's one server.
---@param path? string a file or directory; default: the current buffer, else the working directory
---@return string?
function M.project_root(path)
  if path == nil or path == '' then
    path = vim.api.nvim_buf_get_name(0)
  end
  if path == '' then
    path = vim.fn.getcwd()
  end
  path = vim.fs.normalize(vim.fn.fnamemodify(path, ':p'))
  local project = path:match('^(.-)/%.podium/worktrees/')
  if project then
    return project
  end
  return vim.fs.root(path, options.root_markers)
end

local function on_init(client, result)
  local queue = waiting[client.id] or {}
  waiting[client.id] = nil
  for _, resume in ipairs(queue) do
    resume(nil)
  end
  if options.on_init then
    options.on_init(client, result)
  end
end

local function on_exit(code, signal, client_id)
  local queue = waiting[client_id] or {}
  waiting[client_id] = nil
  vim.schedule(function()
    for _, resume in ipairs(queue) do
      local message = ('podium lsp exited before it was ready (code %s, signal %s)'):format(code, signal)
      resume({ message = message })
    end
  end)
end

--- The client's configuration; without a known `root` (vim.lsp.enable decides it per buffer) the
--- server is spawned in the root the config resolved to, so it finds the project from its working
--- directory as well as from `initialize`.
local function client_config(root)
  local cmd = options.cmd
  if root == nil and has_config_api then
    cmd = function(dispatchers, config)
      local spawn = { cwd = config.cmd_cwd or config.root_dir, env = config.cmd_env }
      return vim.lsp.rpc.start(options.cmd, dispatchers, spawn)
    end
  end
  return {
    name = options.name,
    cmd = cmd,
    cmd_cwd = root,
    filetypes = options.filetypes,
    root_dir = function(bufnr, on_dir)
      local root = M.project_root(vim.api.nvim_buf_get_name(bufnr))
      if root then
        on_dir(root)
      end
    end,
    on_init = on_init,
    on_exit = on_exit,
    handlers = { ['textDocument/publishDiagnostics'] = mirror.publish_diagnostics },
  }
end

--- The running `podium lsp` client of the current project, started (without attaching) if needed.
---@return table? client, string? why
function M.client()
  local root = M.project_root()
  local clients = vim.lsp.get_clients({ name = options.name })
  for _, client in ipairs(clients) do
    if root == nil or client.root_dir == root then
      return client
    end
  end
  if root == nil then
    return nil, 'not inside a git repository (no ' .. table.concat(options.root_markers, ' or ') .. ' above)'
  end
  local config = has_config_api and vim.deepcopy(vim.lsp.config[options.name]) or client_config(root)
  config.name, config.root_dir = options.name, root
  local buf = vim.api.nvim_get_current_buf()
  local is_file = vim.bo[buf].buftype == '' and vim.api.nvim_buf_get_name(buf) ~= ''
  local id = vim.lsp.start(config, { bufnr = buf, attach = is_file })
  local client = id and vim.lsp.get_client_by_id(id)
  if not client then
    return nil, 'could not start ' .. table.concat(options.cmd, ' ')
  end
  return client
end

local function when_ready(client, resume)
  if client.initialized then
    resume(nil)
  else
    waiting[client.id] = waiting[client.id] or {}
    table.insert(waiting[client.id], resume)
  end
end

--- Run one operation on the server. `on_success(result)` may update the state and return a message
--- for the user; then the `User PodiumResult` event fires (data: operation, result, error) and
--- `callback(err, result)` runs. Errors (JSON-RPC errors: `code`, `message`, `data`) are shown too.
---@param operation string e.g. "task_claim"
---@param args table the operation's fields
---@param callback? fun(err: table?, result: table?)
---@param on_success? fun(result: table): (string?, integer?)
function M.run(operation, args, callback, on_success)
  local function finish(err, result)
    if err then
      notify(operation .. ' failed: ' .. (err.message or vim.inspect(err)), ERROR)
    elseif on_success then
      local message, level = on_success(result)
      if message then
        notify(message, level)
      end
    end
    vim.api.nvim_exec_autocmds('User', {
      pattern = 'PodiumResult',
      modeline = false,
      data = { operation = operation, result = result, error = err },
    })
    if callback then
      callback(err, result)
    end
  end

  local client, why = M.client()
  if not client then
    return finish({ message = why })
  end
  when_ready(client, function(start_error)
    if start_error then
      return finish(start_error)
    end
    local params = {
      command = 'podium.' .. operation,
      arguments = { next(args) and args or vim.empty_dict() },
    }
    local function handler(err, result)
      finish(err, result)
    end
    local sent
    if has_config_api then
      sent = client:request('workspace/executeCommand', params, handler)
    else
      sent = client.request('workspace/executeCommand', params, handler)
    end
    if not sent then
      finish({ message = 'podium lsp is not running (see :checkhealth vim.lsp)' })
    end
  end)
end

--- Run `fn(mission_id)` for the remembered mission, else the project's only active one.
local function with_mission(callback, fn)
  if M.state.mission_id then
    return fn(M.state.mission_id)
  end
  M.run('mission_status', {}, function(err, result)
    if err then
      return callback and callback(err, nil)
    end
    local active = {}
    for _, mission in ipairs(result.missions or {}) do
      if mission.state == 'active' then
        table.insert(active, mission)
      end
    end
    local function choose(mission)
      if not mission then
        local err2 = { message = 'no active mission: start one with :PodiumStart {goal}' }
        notify(err2.message, WARN)
        return callback and callback(err2, nil)
      end
      M.state.mission_id = mission.mission_id
      fn(mission.mission_id)
    end
    if #active <= 1 then
      return choose(active[1])
    end
    vim.ui.select(active, {
      prompt = 'Podium mission',
      format_item = function(mission)
        return mission.mission_id .. ': ' .. mission.goal
      end,
    }, choose)
  end)
end

--- Start a mission on the current project and remember it.
---@param goal string
---@param tasks? table[] task inputs: `{ title, files?, depends_on?, key?, description?, ... }`
---@param callback? fun(err: table?, result: table?)
function M.start(goal, tasks, callback)
  M.run('mission_start', { goal = goal, tasks = tasks or {} }, callback, function(result)
    M.state.mission_id, M.state.tasks, M.state.current = result.mission_id, {}, nil
    local count = #result.tasks
    return ('mission %s started on %s with %d task(s)'):format(result.mission_id, result.branch, count)
  end)
end

--- The task whose worktree holds `path` (default: the current buffer), else the last one claimed.
---@return table? entry `{ id, task, worktree, files }`
function M.current_task(path)
  path = path or vim.api.nvim_buf_get_name(0)
  for _, entry in pairs(M.state.tasks) do
    if path ~= '' and vim.startswith(vim.fs.normalize(path), entry.worktree .. '/') then
      return entry
    end
  end
  return M.state.current and M.state.tasks[M.state.current] or nil
end

--- The current buffer's path relative to its task worktree or project, for new tasks' `files`.
local function relative_path()
  local path = vim.fs.normalize(vim.api.nvim_buf_get_name(0))
  local entry = M.current_task(path)
  local in_worktree = entry and vim.startswith(path, entry.worktree .. '/')
  local base = in_worktree and entry.worktree or M.project_root(path)
  if path == '' or not base or not vim.startswith(path, base .. '/') then
    return nil
  end
  return path:sub(#base + 2)
end

--- Add one task to the mission's roadmap, on `files` (default: the current file).
---@param title string
---@param files? string[]
---@param callback? fun(err: table?, result: table?)
function M.add(title, files, callback)
  files = files or { relative_path() }
  with_mission(callback, function(mission_id)
    local args = { mission_id = mission_id, tasks = { { title = title, files = files } } }
    M.run('roadmap_add', args, callback, function(result)
      return ('added %s to %s'):format(table.concat(result.ids, ', '), mission_id)
    end)
  end)
end

--- Claim the next ready task; with `open_on_claim`, open its first file in the task's worktree.
---@param callback? fun(err: table?, result: table?)
function M.claim(callback)
  with_mission(callback, function(mission_id)
    M.run('task_claim', { mission_id = mission_id, worker = worker() }, callback, function(result)
      if not result.claimed then
        local why = result.reason or 'nothing ready'
        return 'no task to claim: ' .. why .. (result.detail and (' (' .. result.detail .. ')') or ''), WARN
      end
      local task = result.task
      local id = task.mission_id .. '/' .. task.id
      local worktree = vim.fs.normalize(result.worktree)
      M.state.tasks[id] = { id = id, task = task, worktree = worktree, files = result.files or {} }
      M.state.current = id
      local first = (result.files or {})[1]
      if options.open_on_claim and first then
        vim.cmd.edit(vim.fn.fnameescape(worktree .. '/' .. first))
      end
      return ('claimed %s "%s" in %s'):format(task.id, task.title, worktree)
    end)
  end)
end

local function save_worktree_buffers(worktree)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_get_name(buf)
    if vim.bo[buf].modified and vim.startswith(vim.fs.normalize(name), worktree .. '/') then
      vim.api.nvim_buf_call(buf, function()
        vim.cmd('silent write')
      end)
    end
  end
end

--- Submit the current task's worktree as it is on disk (modified buffers in it are written first).
--- A rejection's findings arrive as diagnostics from the server; fix them and submit again.
---@param callback? fun(err: table?, result: table?)
function M.submit(callback)
  local entry = M.current_task()
  if not entry then
    local err = { message = 'no claimed task: :PodiumClaim first' }
    notify(err.message, WARN)
    return callback and callback(err, nil)
  end
  if options.save_before_submit then
    save_worktree_buffers(entry.worktree)
  end
  M.run('task_submit', { task_id = entry.id, worker = worker() }, callback, function(result)
    -- A conflict leaves markers in the worktree's files: reload them.
    vim.cmd('silent! checktime')
    -- The server itself announces merges and rejections (window/showMessage); say only the rest.
    if result.status == 'merged' then
      M.state.tasks[entry.id] = nil
      if M.state.current == entry.id then
        M.state.current = nil
      end
    elseif result.status == 'review' then
      return entry.task.id .. ' passed the gate and waits for review'
    elseif result.status == 'conflict' then
      local hint = ' conflicts with work merged meanwhile: resolve the markers and submit again'
      return entry.task.id .. hint, WARN
    end
  end)
end

local function roadmap_lines(missions)
  local lines = {}
  for index, mission in ipairs(missions) do
    if index > 1 then
      vim.list_extend(lines, { '', '---', '' })
    end
    vim.list_extend(lines, vim.split(mission.roadmap or '', '\n', { trimempty = true }))
  end
  return #lines > 0 and lines or { 'No missions yet: :PodiumStart {goal}' }
end

--- Show ROADMAP.md of the current mission (of every mission if none is known) in a floating window.
---@param callback? fun(err: table?, result: table?)
function M.status(callback)
  local args = M.state.mission_id and { mission_id = M.state.mission_id } or {}
  M.run('mission_status', args, callback, function(result)
    local missions = result.missions or {}
    local title = 'Podium'
    if #missions == 1 then
      local mission = missions[1]
      local percent = math.floor(mission.progress or 0)
      title = ('Podium %s: %s, %d%%'):format(mission.mission_id, mission.state, percent)
    end
    float.show(title, roadmap_lines(missions), options.float)
  end)
end

--- Finish the current mission; with `apply`, merge its branch into the checked-out branch.
---@param apply boolean
---@param callback? fun(err: table?, result: table?)
function M.finish(apply, callback)
  with_mission(callback, function(mission_id)
    M.run('mission_finish', { mission_id = mission_id, apply = apply }, callback, function(result)
      M.state.mission_id, M.state.tasks, M.state.current = nil, {}, nil
      if result.applied then
        vim.cmd('silent! checktime')
        return ('mission %s merged into %s (%s, %s)'):format(
          mission_id,
          result.user_branch or '?',
          result.kind or 'merge',
          short(result.head)
        )
      end
      local text = 'mission %s %s; its branch was not merged (:PodiumFinish! merges it)'
      return text:format(mission_id, result.state)
    end)
  end)
end

--- Cancel the current mission and its open tasks.
---@param callback? fun(err: table?, result: table?)
function M.cancel(callback)
  with_mission(callback, function(mission_id)
    M.run('mission_cancel', { mission_id = mission_id }, callback, function()
      M.state.mission_id, M.state.tasks, M.state.current = nil, {}, nil
    end)
  end)
end

--- Give the current task back as "ready", "blocked" or "failed".
---@param status string
---@param reason? string
---@param callback? fun(err: table?, result: table?)
function M.release(status, reason, callback)
  local entry = M.current_task()
  if not entry then
    local err = { message = 'no claimed task to release' }
    notify(err.message, WARN)
    return callback and callback(err, nil)
  end
  local args = { task_id = entry.id, worker = worker(), status = status, reason = reason or '' }
  M.run('task_release', args, callback, function(result)
    M.state.tasks[entry.id] = nil
    if M.state.current == entry.id then
      M.state.current = nil
    end
    return ('%s released as %s'):format(entry.task.id, result.task.state)
  end)
end

local function progress_autocmd()
  vim.api.nvim_create_autocmd('LspProgress', {
    group = vim.api.nvim_create_augroup('podium.progress', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      local value = args.data.params and args.data.params.value
      if not client or client.name ~= options.name or type(value) ~= 'table' then
        return
      end
      local text = table.concat(vim.tbl_filter(function(part)
        return part ~= nil and part ~= ''
      end, { value.title, value.message, value.percentage and (value.percentage .. '%') }), ' ')
      vim.api.nvim_echo({ { 'Podium: ' .. text } }, false, {})
    end,
  })
end

--- Configure the client and define the commands.
---@param opts? table see README.md; every field is optional
function M.setup(opts)
  options = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  if opts and opts.cmd then
    options.cmd = opts.cmd -- a list replaces the default, it does not merge into it
  end
  if opts and opts.root_markers then
    options.root_markers = opts.root_markers
  end
  require('podium.commands').define(M, function(title, lines)
    float.show(title, lines, options.float)
  end)
  if options.progress then
    progress_autocmd()
  end
  if has_config_api then
    vim.lsp.config(options.name, client_config())
    vim.lsp.enable(options.name)
    return
  end
  -- Neovim 0.10: no vim.lsp.config; start (or reuse) the client for each file buffer of a project.
  local function attach(buf)
    if vim.bo[buf].buftype ~= '' or vim.api.nvim_buf_get_name(buf) == '' then
      return
    end
    local root = M.project_root(vim.api.nvim_buf_get_name(buf))
    if root then
      local config = client_config(root)
      config.root_dir = root
      vim.lsp.start(config, { bufnr = buf })
    end
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = vim.api.nvim_create_augroup('podium.attach', { clear = true }),
    pattern = options.filetypes or '*',
    callback = function(args)
      attach(args.buf)
    end,
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype ~= '' then
      attach(buf)
    end
  end
end

return M
