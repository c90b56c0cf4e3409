"""Orders and payments: state machines, providers, ledger. Imports only catalog.money."""
