"""The Discord adapter: the only code in newsbot that imports discord.py.

Handlers here translate: they parse options, check permission, call one core function and
format the reply. Decisions, SQL and formatting rules live in the core.
"""
