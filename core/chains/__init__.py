"""Execution chains: chains of agent stages, human approvals, eval assessments, the journey and executor env."""
