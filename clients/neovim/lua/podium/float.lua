--- A centred floating window over a scratch buffer, for ROADMAP.md and command results.
local M = {}

--- Show `lines` in a floating window; `q` or <Esc> closes it.
---@param title string
---@param lines string[]
---@param opts? { filetype?: string, border?: string, width?: number, height?: number }
---@return integer win, integer buf
function M.show(title, lines, opts)
  opts = opts or {}
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].filetype = opts.filetype or 'markdown'

  -- Fractions of the editor size, but never wider or taller than the text needs.
  local widest = 20
  for _, line in ipairs(lines) do
    widest = math.max(widest, vim.fn.strdisplaywidth(line))
  end
  local width = math.min(widest + 2, math.floor(vim.o.columns * (opts.width or 0.8)))
  local height = math.min(math.max(#lines, 1), math.floor((vim.o.lines - 2) * (opts.height or 0.8)))
  width, height = math.max(width, 1), math.max(height, 1)

  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2) - 1,
    col = math.floor((vim.o.columns - width) / 2),
    style = 'minimal',
    border = opts.border or 'rounded',
    title = ' ' .. title .. ' ',
    title_pos = 'center',
  })
  vim.wo[win].wrap = true
  for _, key in ipairs({ 'q', '<Esc>' }) do
    vim.keymap.set('n', key, function()
      if vim.api.nvim_win_is_valid(win) then
        vim.api.nvim_win_close(win, true)
      end
    end, { buffer = buf, nowait = true, desc = 'Close the Podium window' })
  end
  return win, buf
end

return M
