import sys

from hubclient.cli import main

sys.exit(main())
