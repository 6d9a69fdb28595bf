-- The init file of the headless Neovim that tests/e2e/test_neovim.py runs.
--
-- It loads clients/neovim, lets it attach `podium lsp` to the opened file, then drives a mission with the
-- plugin's user commands and records what Neovim saw (results, diagnostics, messages, the status window)
-- as JSON in the file the test named. Every wait is `vim.wait` on a condition with a bound, and a
-- `vim.defer_fn` deadline ends the editor even if one of them never returns.

local scenario = vim.json.decode(table.concat(vim.fn.readfile(vim.env.PODIUM_NVIM_SCENARIO), '\n'))
local out = { steps = {}, messages = {}, notifications = {}, progress = 0 }
local finished = false

local function write_out()
  vim.fn.writefile({ vim.json.encode(out) }, scenario.out)
end

local function stop(error_message)
  if finished then
    return
  end
  finished = true
  out.error = error_message
  write_out()
  vim.cmd('qall!')
end

vim.defer_fn(function()
  stop('the scenario did not finish within ' .. scenario.deadline_ms .. ' ms')
end, scenario.deadline_ms)

vim.opt.runtimepath:prepend(scenario.plugin)
local podium = require('podium')
podium.setup({ cmd = scenario.cmd, worker = 'nvim-tester' })

local show_message = vim.lsp.handlers['window/showMessage']
vim.lsp.handlers['window/showMessage'] = function(err, params, ctx)
  table.insert(out.messages, params.message)
  return show_message(err, params, ctx)
end
local notify = vim.notify
vim.notify = function(message, level, opts)
  table.insert(out.notifications, message)
  return notify(message, level, opts)
end
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function()
    out.progress = out.progress + 1
  end,
})

local results = {}
vim.api.nvim_create_autocmd('User', {
  pattern = 'PodiumResult',
  callback = function(args)
    table.insert(results, args.data)
  end,
})

local function wait_for(what, condition)
  if not vim.wait(scenario.step_ms, condition, 10) then
    stop('gave up waiting for ' .. what)
    error('stopped')
  end
end

--- Run an Ex command of the plugin and wait for the result of `operation` it leads to.
local function command(ex, operation)
  local seen = #results
  vim.cmd(ex)
  local found
  wait_for(operation .. ' after :' .. ex, function()
    for index = seen + 1, #results do
      if results[index].operation == operation then
        found = results[index]
        return true
      end
    end
    return false
  end)
  if found.error ~= nil and found.error ~= vim.NIL then
    stop(':' .. ex .. ' failed: ' .. vim.inspect(found.error))
    error('stopped')
  end
  table.insert(out.steps, { command = ex, operation = operation, result = found.result })
  return found.result
end

local function podium_diagnostics()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(nil)) do
    if d.source == 'podium' then
      table.insert(found, {
        file = vim.api.nvim_buf_get_name(d.bufnr),
        lnum = d.lnum,
        message = d.message,
        severity = d.severity,
      })
    end
  end
  return found
end

local function set_buffer(text)
  vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(text, '\n', { trimempty = true }))
end

local function floating_window_lines()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false)
    end
  end
  return nil
end

local function run()
  wait_for('podium lsp to attach', function()
    local client = vim.lsp.get_clients({ name = 'podium', bufnr = 0 })[1]
    return client ~= nil and client.initialized
  end)
  out.root_dir = vim.lsp.get_clients({ name = 'podium' })[1].root_dir

  command('PodiumStart ' .. scenario.goal, 'mission_start')
  command('PodiumAdd ' .. scenario.task_title, 'roadmap_add')
  local claimed = command('PodiumClaim', 'task_claim')
  out.claimed_buffer = vim.api.nvim_buf_get_name(0)
  wait_for('the worktree buffer to attach', function()
    return vim.lsp.get_clients({ name = 'podium', bufnr = 0 })[1] ~= nil
  end)
  out.clients_after_claim = #vim.lsp.get_clients({ name = 'podium' })

  local task_id = claimed.task.mission_id .. '/' .. claimed.task.id
  local beat = vim.json.encode({ task_id = task_id, worker = 'nvim-tester' })
  command('Podium task_heartbeat ' .. beat, 'task_heartbeat')
  out.heartbeat_window = floating_window_lines()
  vim.cmd('close')

  set_buffer(scenario.broken)
  command('PodiumSubmit', 'task_submit')
  wait_for('podium diagnostics on the rejected file', function()
    return #podium_diagnostics() > 0
  end)
  out.diagnostics_after_rejection = podium_diagnostics()

  set_buffer(scenario.fixed)
  command('PodiumSubmit', 'task_submit')
  wait_for('the podium diagnostics to clear', function()
    return #podium_diagnostics() == 0
  end)
  out.diagnostics_after_merge = podium_diagnostics()

  command('PodiumStatus', 'mission_status')
  out.status_window = floating_window_lines()
  vim.cmd('close')

  command('PodiumFinish!', 'mission_finish')
  out.state_after_finish = { mission_id = podium.state.mission_id or vim.NIL }
  stop(nil)
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = pcall(run)
      if not ok and not finished then
        stop('the scenario raised: ' .. tostring(err))
      end
    end)
  end,
})
