--- The user commands: `:PodiumStart`, `:PodiumClaim`, ... over the functions of `require('podium')`.
local M = {}

local function run_raw(podium, show, operation, json)
  local ok, args = pcall(vim.json.decode, json ~= '' and json or '{}', { luanil = { object = true } })
  if not ok or type(args) ~= 'table' then
    local hint = 'Podium: arguments must be one JSON object, e.g. {"mission_id": "m-1"}'
    return vim.notify(hint, vim.log.levels.ERROR)
  end
  podium.run(operation, args, nil, function(result)
    show('podium.' .. operation, vim.split(vim.inspect(result), '\n'))
  end)
end

--- Define the commands on `podium` (the plugin's module); `show(title, lines)` opens a floating window.
function M.define(podium, show)
  local command = vim.api.nvim_create_user_command
  command('PodiumStart', function(c)
    podium.start(c.args)
  end, { nargs = '+', desc = 'Start a Podium mission with this goal' })
  command('PodiumAdd', function(c)
    podium.add(c.args)
  end, { nargs = '+', desc = 'Add a task (this title, on the current file) to the mission' })
  command('PodiumClaim', function()
    podium.claim()
  end, { desc = 'Claim the next ready task and open it in its worktree' })
  command('PodiumSubmit', function()
    podium.submit()
  end, { desc = "Submit the task's worktree to the verification gate" })
  command('PodiumStatus', function()
    podium.status()
  end, { desc = "Show the mission's ROADMAP.md" })
  command('PodiumFinish', function(c)
    podium.finish(c.bang)
  end, { bang = true, desc = 'Finish the mission (! merges it into your branch)' })
  command('PodiumCancel', function()
    podium.cancel()
  end, { desc = 'Cancel the mission' })
  command('PodiumRelease', function(c)
    local status, reason = c.args:match('^(%S+)%s*(.*)$')
    podium.release(status or 'ready', reason)
  end, {
    nargs = '*',
    complete = function()
      return { 'ready', 'blocked', 'failed' }
    end,
    desc = 'Give the task back: ready, blocked or failed, then a reason',
  })
  command('Podium', function(c)
    local operation, json = c.args:match('^(%S+)%s*(.*)$')
    run_raw(podium, show, operation, json)
  end, {
    nargs = '+',
    complete = function(lead, line)
      if line:match('^%S+%s+%S+%s') then
        return {}
      end
      return vim.tbl_filter(function(name)
        return vim.startswith(name, lead)
      end, podium.operations)
    end,
    desc = 'Run any Podium operation with a JSON object of arguments',
  })
end

return M
