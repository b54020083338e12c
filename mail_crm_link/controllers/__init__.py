from . import main
from . import attachment
