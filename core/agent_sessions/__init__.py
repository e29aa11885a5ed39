"""The agent-session store of the second seed: sessions, messages, tool calls and git links of agent conversations."""
