"""Small constructs, one per module; `ProjectClaudeAccess` composes the per-project ones."""
