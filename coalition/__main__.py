"""python -m coalition: the same as the `coalition` command."""

from .cli import main

main(prog_name="coalition")
