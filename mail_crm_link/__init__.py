from . import controllers
from . import models
from . import cli
from . import wizards
