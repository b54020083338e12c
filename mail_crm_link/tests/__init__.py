from . import test_bench
from . import test_compose
from . import test_linking
from . import test_manual
from . import test_policy
from . import test_mailflow
from . import test_sync
from . import test_tour
