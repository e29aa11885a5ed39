"""The catalog area: workspaces, tasks, agent assignments and inbox messages (models and services)."""
