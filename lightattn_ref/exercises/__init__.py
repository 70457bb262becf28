"""Checks for the chapters' exercises: ``check_*(answer)`` runs randomised tests on a reader's
answer, prints a confirmation when it is right, and raises ``AssertionError`` with a one-sentence
explanation when it is wrong. One module or package per chapter, one file per check; all checks are
importable from here."""

from .anatomy import *  # noqa: F403
from .cbam import *  # noqa: F403
from .compare import *  # noqa: F403
from .fast import *  # noqa: F403
from .coord import *  # noqa: F403
from .learn import *  # noqa: F403
from .se_eca import *  # noqa: F403
from .seeing import *  # noqa: F403
from .shuffle import *  # noqa: F403
from .ulsam import *  # noqa: F403
