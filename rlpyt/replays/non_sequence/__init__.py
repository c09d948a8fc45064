"""Transition replays: each sample is one step with its n-step return."""
