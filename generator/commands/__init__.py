"""One module per `gitops-onboard` subcommand; each exposes `add_parser(subparsers)`.

`generator.commands.registry` lists them for the parser. The package itself imports none,
so the hidden commands Copier runs after every render (`copier_hooks`) load only the library
they use, not that of every command.
"""
