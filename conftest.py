"""Keep Jupyter, IPython and matplotlib from writing into the user's home during tests and nbval runs."""

import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="littlebook-test-home-")
for var, sub in [("MPLCONFIGDIR", "mpl"), ("IPYTHONDIR", "ipython"), ("JUPYTER_CONFIG_DIR", "jupyter-config"),
                 ("JUPYTER_RUNTIME_DIR", "jupyter-runtime")]:
    os.environ.setdefault(var, os.path.join(_tmp, sub))
