import sys

from lingualift.cli import main

sys.exit(main())
