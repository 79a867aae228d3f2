"""Tests of the commands and the service layer behind them: operating, hardening, crashes, the daemon, privacy,
PostgreSQL."""
