--- Rejected findings, shown where the work is edited.
---
--- The server publishes a rejected task's findings on the project's files (`<root>/pkg/mod.py`), but the
--- task is edited in its worktree (`<root>/.podium/worktrees/<mission>/<task>/pkg/mod.py`). Each
--- finding names its task in `data`, so the same diagnostics are also published on the worktree's copy
--- of the file while that worktree exists, and cleared with the originals.
local M = {}

local mirrored = {} -- project file URI -> { [worktree file URI] = true } published last time

local function worktree_uri(root, relative, data)
  if type(data) ~= 'table' or type(data.mission_id) ~= 'string' or type(data.task_id) ~= 'string' then
    return nil
  end
  local worktree = table.concat({ root, '.podium', 'worktrees', data.mission_id, data.task_id }, '/')
  if vim.fn.isdirectory(worktree) == 0 then
    return nil
  end
  return vim.uri_from_fname(worktree .. '/' .. relative)
end

--- The `textDocument/publishDiagnostics` handler: the default one, then the worktree copies.
function M.publish_diagnostics(err, params, ctx)
  local publish = vim.lsp.diagnostic.on_publish_diagnostics
  publish(err, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if err or not client or not client.root_dir then
    return
  end
  local root = vim.fs.normalize(client.root_dir)
  local path = vim.fs.normalize(vim.uri_to_fname(params.uri))
  if not vim.startswith(path, root .. '/') or vim.startswith(path, root .. '/.podium/') then
    return
  end
  local relative = path:sub(#root + 2)

  local targets = {}
  for _, diagnostic in ipairs(params.diagnostics or {}) do
    local target = worktree_uri(root, relative, diagnostic.data)
    if target then
      targets[target] = targets[target] or {}
      table.insert(targets[target], diagnostic)
    end
  end
  for target in pairs(mirrored[params.uri] or {}) do
    if not targets[target] then
      publish(nil, { uri = target, diagnostics = {} }, ctx)
    end
  end
  local published = {}
  for target, diagnostics in pairs(targets) do
    publish(nil, { uri = target, diagnostics = diagnostics }, ctx)
    published[target] = true
  end
  mirrored[params.uri] = next(published) and published or nil
end

return M
