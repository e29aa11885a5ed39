"""Firestore adapter of the Store port (google-cloud-firestore imported lazily, never at package import)."""
