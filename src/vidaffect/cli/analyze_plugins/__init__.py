"""Plugins of `vidaffect analyze`: see vidaffect.cli.commands.analyze for the protocol."""
