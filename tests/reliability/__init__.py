"""Reliability and security tests (issue 7, parts 3-7): database faults, hostile input,
permissions, the template sandbox and secrets.

Tests print nothing unless they fail. The figures they measure (corpus size, peak memory, lock
recovery time, ...) are collected through the ``figures`` fixture and shown at the end of a
run with ``NEWSBOT_FIGURES=1`` (see ``conftest.py``).
"""
