"""Adapters implementing the ports: SQLite store, local bus (Firestore, Pub/Sub, ClickHouse come later)."""
