"""Thin Cloud Functions entry points: parse the request, call one core service, render the answer."""
