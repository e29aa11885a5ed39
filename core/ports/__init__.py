"""Ports: what the domain needs from the world (Store, Bus); adapters implement them."""
