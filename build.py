"""Build a campaign's letters: `python build.py march-2020` is `coalition build march-2020`."""

import sys

from coalition.cli import main

if __name__ == "__main__":
    main(["build", *sys.argv[1:]], prog_name="build.py")
