"""Signature checks over raw bytes, shared by the channels and the payment providers."""
