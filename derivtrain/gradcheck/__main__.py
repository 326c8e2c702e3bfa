import sys

from derivtrain.gradcheck import main

sys.exit(main())
