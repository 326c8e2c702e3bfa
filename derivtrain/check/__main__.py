import sys

from derivtrain.check import main

sys.exit(main())
