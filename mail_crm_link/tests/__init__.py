from . import test_bench
from . import test_tour
